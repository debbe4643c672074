/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of the runtime module: opening sources without following links, who backends run as, the systemd command line, runtime state. */
#include <config.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib/gstdio.h>

#include "backend-conf.h"
#include "backend.h"
#include "domain.h"
#include "lint-backend.h"
#include "runtime.h"
#include "util/cleanup.h"
#include "util/error.h"

struct tree {
  char *root;               /* a temporary directory */
  char *images;             /* ROOT/images: the allowed directory */
};

static void
tree_make (struct tree *t)
{
  g_autofree char *outside = NULL, *link_target = NULL;

  t->root = g_dir_make_tmp ("vdp-rt-XXXXXX", NULL);
  t->images = g_build_filename (t->root, "images", NULL);
  assert_int_equal (g_mkdir (t->images, 0755), 0);
  g_autofree char *sub = g_build_filename (t->images, "sub", NULL);
  g_autofree char *f = g_build_filename (t->images, "a.raw", NULL);
  g_autofree char *f2 = g_build_filename (sub, "b.raw", NULL);
  g_autofree char *lnk = g_build_filename (t->images, "link.raw", NULL);
  g_autofree char *dlnk = g_build_filename (t->images, "dirlink", NULL);
  g_autofree char *fifo = g_build_filename (t->images, "fifo", NULL);
  outside = g_build_filename (t->root, "outside.raw", NULL);
  assert_int_equal (g_mkdir (sub, 0755), 0);
  assert_true (g_file_set_contents (f, "x", 1, NULL));
  assert_true (g_file_set_contents (f2, "x", 1, NULL));
  assert_true (g_file_set_contents (outside, "x", 1, NULL));
  assert_int_equal (symlink (outside, lnk), 0);
  assert_int_equal (symlink (sub, dlnk), 0);
  assert_int_equal (mkfifo (fifo, 0600), 0);
}

static void
tree_free (struct tree *t)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", t->root);
  assert_int_equal (system (cmd), 0);
  g_free (t->root);
  g_free (t->images);
}

static void
test_open_source (void **state)
{
  struct tree t;
  static const struct { const char *rel; const char *error; } cases[] = {
    { "images/a.raw", NULL },
    { "images/sub/b.raw", NULL },
    { "images/link.raw", "a path component is a symbolic link" },
    { "images/dirlink/b.raw", "a path component is a symbolic link" },
    { "images/../outside.raw", "not an absolute path without" },
    { "images/./a.raw", "not an absolute path without" },
    { "images//a.raw", "not an absolute path without" },
    { "outside.raw", "not under the allowed directories" },
    { "images", "not under the allowed directories" },
    { "images/sub", "neither a regular file nor a block device" },
    { "images/fifo", "neither a regular file nor a block device" },
    { "images/none.raw", "No such file or directory" },
    { "imagesX/a.raw", "not under the allowed directories" },
  };

  tree_make (&t);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = g_build_filename (t.root, cases[i].rel, NULL);
    const char *const allowed[] = { "/nonexistent-first", t.images, NULL };
    g_autoptr (GError) err = NULL;
    int fd;

    /* g_build_filename folds "//" and "./": write the path as given */
    g_free (path);
    path = g_strconcat (t.root, "/", cases[i].rel, NULL);
    fd = vdp_runtime_open_source (allowed, path, &err);
    if (cases[i].error == NULL) {
      struct stat st;
      if (fd < 0)
        fail_msg ("case %s: %s", cases[i].rel, err->message);
      assert_int_equal (fstat (fd, &st), 0);
      assert_true (S_ISREG (st.st_mode));
      assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
      assert_int_equal (fcntl (fd, F_GETFL) & O_PATH, O_PATH);
      close (fd);
    } else {
      assert_int_equal (fd, -1);
      if (!strstr (err->message, cases[i].error) || !strstr (err->message, path))
        fail_msg ("case %s: '%s'", cases[i].rel, err->message);
    }
  }
  tree_free (&t);
}

/* The same checks without openat2: one component at a time. */
static void
test_open_walk (void **state)
{
  struct tree t;
  static const struct { const char *rel; gboolean ok; } cases[] = {
    { "a.raw", TRUE }, { "sub/b.raw", TRUE }, { "link.raw", FALSE },
    { "dirlink/b.raw", FALSE }, { "../outside.raw", FALSE }, { "sub/../a.raw", FALSE },
    { "a.raw/x", FALSE }, { "none", FALSE },
  };
  int dirfd;

  tree_make (&t);
  dirfd = open (t.images, O_PATH | O_DIRECTORY | O_CLOEXEC);
  assert_true (dirfd >= 0);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) err = NULL;
    int fd = vdp_runtime_open_beneath_walk (dirfd, cases[i].rel, &err);
    if (cases[i].ok != (fd >= 0))
      fail_msg ("case %s: %s", cases[i].rel, fd >= 0 ? "opened" : err->message);
    if (fd >= 0) {
      struct stat st;
      assert_int_equal (fstat (fd, &st), 0);
      assert_true (S_ISREG (st.st_mode));
      close (fd);
    }
  }
  close (dirfd);
  tree_free (&t);
}

static xmlDocPtr
doc_with (const char *extra)
{
  g_autofree char *xml = g_strdup_printf ("<domain type='kvm'><name>d</name>%s</domain>", extra);
  return vdp_xml_read_memory (xml, "d.xml", NULL);
}

static struct vdp_backend_conf *
conf_with (const char *text)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-rtc-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "backend.conf", NULL);
  struct vdp_backend_conf *c;

  assert_true (g_file_set_contents (path, text, -1, NULL));
  c = vdp_backend_conf_load (path, NULL);
  assert_non_null (c);
  g_unlink (path);
  g_rmdir (dir);
  return c;
}

static void
test_ident (void **state)
{
  struct passwd *nobody = getpwnam ("nobody");
  struct group *nogroup = getgrnam ("nogroup");
  g_autofree char *dir = g_dir_make_tmp ("vdp-qc-XXXXXX", NULL);
  g_autofree char *qc = g_build_filename (dir, "qemu.conf", NULL);
  g_autofree char *conf_text = g_strdup_printf ("[backend]\nqemu_conf = %s\n", qc);
  g_autoptr (vdp_backend_conf) conf = conf_with (conf_text);
  g_autoptr (vdp_backend_conf) forced = conf_with ("[backend]\nuser = root\ngroup = root\n");
  g_autoptr (xmlDoc) plain = doc_with ("");
  g_autoptr (xmlDoc) label = doc_with ("<seclabel type='dynamic' model='dac'><label>+1234:+5678</label></seclabel>");
  g_autoptr (xmlDoc) root_label = doc_with ("<seclabel type='static' model='dac'><label>+0:+0</label></seclabel>");
  g_autoptr (xmlDoc) selinux = doc_with ("<seclabel type='dynamic' model='selinux'><label>x:y:z</label></seclabel>");
  struct vdp_runtime_ident who;
  g_autoptr (GError) err = NULL;

  assert_non_null (nobody);
  assert_non_null (nogroup);
  /* qemu.conf, with its comments and spacing */
  assert_true (g_file_set_contents (qc, "# user = \"root\"\nuser=\"nobody\"\n  group = \"nogroup\" # the group\n",
                                    -1, NULL));
  assert_true (vdp_runtime_ident (conf, plain, &who, &err));
  assert_int_equal (who.uid, nobody->pw_uid);
  assert_int_equal (who.gid, nogroup->gr_gid);
  /* the DAC label libvirt gives QEMU wins; other models are not DAC */
  assert_true (vdp_runtime_ident (conf, label, &who, &err));
  assert_int_equal (who.uid, 1234);
  assert_int_equal (who.gid, 5678);
  assert_true (vdp_runtime_ident (conf, selinux, &who, &err));
  assert_int_equal (who.uid, nobody->pw_uid);
  /* root only when backend.conf says so */
  assert_false (vdp_runtime_ident (conf, root_label, &who, &err));
  assert_non_null (strstr (err->message, "makes backends root"));
  g_clear_error (&err);
  assert_true (vdp_runtime_ident (forced, root_label, &who, &err));
  assert_int_equal (who.uid, 0);
  /* no qemu.conf: libvirt's default user */
  g_unlink (qc);
  if (getpwnam ("libvirt-qemu")) {
    assert_true (vdp_runtime_ident (conf, plain, &who, &err));
    assert_int_equal (who.uid, getpwnam ("libvirt-qemu")->pw_uid);
  } else {
    assert_false (vdp_runtime_ident (conf, plain, &who, &err));
    assert_non_null (strstr (err->message, "no such user 'libvirt-qemu'"));
  }
  g_rmdir (dir);
}

static void
test_systemd_argv (void **state)
{
  g_autoptr (vdp_backend_conf) conf = conf_with ("[backend]\nruntime_dir = /run/vdp\n"
                                                 "memory_limit_mib = 256\nmax_workers = 2\n"
                                                 "stop_timeout_ms = 5000\n");
  struct vdp_backend_disk b = { 0 };
  char *cpus[] = { (char *) "2", (char *) "3", (char *) "4", NULL };
  struct vdp_runtime_ident who = { 999, 995 };
  g_auto (GStrv) argv = NULL;
  g_autofree char *line = NULL;
  g_autofree char *unit = vdp_runtime_unit_name ("8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11", "vda");

  b.target = (char *) "vda";
  b.socket = (char *) "/run/vdp/8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11/vda.sock";
  b.queues = 4;
  b.n_workers = 3;
  b.worker_cpus = cpus;
  argv = vdp_runtime_systemd_argv (conf, "8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11", &b, &who,
                                   "/usr/bin/virt-dataplane");
  line = g_strjoinv (" ", argv);
  assert_string_equal (unit, "virt-dataplane-blk-8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11-vda");
  assert_string_equal (argv[0], "systemd-run");
  for (const char *const *want = (const char *const[]) {
         "--unit=virt-dataplane-blk-8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11-vda ",
         "--collect ",
         "--socket-property=ListenStream=/run/vdp/8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11/vda.sock ",
         "--socket-property=SocketUser=999 ", "--socket-property=SocketGroup=995 ",
         "--socket-property=SocketMode=0660 ", "--property=Restart=always ",
         "--property=TasksMax=6 ", "--property=MemoryMax=268435456 ",
         "--property=TimeoutStopSec=5000ms ", "--property=LimitCORE=0 ",
         "-- /usr/bin/virt-dataplane hook "
         "--exec-backend=/run/vdp/8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11/vda.conf",
         NULL }; *want; want++)
    if (!strstr (line, *want))
      fail_msg ("'%s' not in: %s", *want, line);
}

static void
test_states (void **state)
{
  g_autofree char *root = g_dir_make_tmp ("vdp-st-XXXXXX", NULL);
  g_autofree char *conf_text = g_strdup_printf ("[backend]\nruntime_dir = %s\n", root);
  g_autoptr (vdp_backend_conf) conf = conf_with (conf_text);
  const char *uuid = "8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11";
  g_autofree char *dir = g_build_filename (root, uuid, NULL);
  g_autofree char *stats = g_build_filename (dir, "vda.stats", NULL);
  g_autofree char *half = g_build_filename (dir, "vdb.stats", NULL);
  g_autofree char *pidf = g_build_filename (dir, "vdb.pid", NULL);
  g_autofree char *statef = g_build_filename (dir, "vda.state", NULL);
  g_autofree char *mine = g_strdup_printf ("%d\n", (int) getpid ());
  g_autoptr (GPtrArray) states = NULL;
  const struct vdp_runtime_state *a, *b;

  assert_int_equal (g_mkdir (dir, 0700), 0);
  assert_true (g_file_set_contents (stats, "pid 999999\nstate connected\nconnections 3\n"
                                    "requests 12345\nthreads 2\nupdated 1.5\nend\n", -1, NULL));
  assert_true (g_file_set_contents (statef, "supervisor 1\nbackend 0\nrestarts 2\n", -1, NULL));
  /* caught mid-rewrite: no "end", not believed */
  assert_true (g_file_set_contents (half, "pid 1\nstate conn", -1, NULL));
  /* a pid file nobody holds the lock of: not running */
  assert_true (g_file_set_contents (pidf, mine, -1, NULL));
  states = vdp_runtime_states (conf, uuid);
  assert_int_equal (states->len, 2);
  a = states->pdata[0];
  b = states->pdata[1];
  assert_string_equal (a->target, "vda");
  assert_true (a->have_stats);
  assert_string_equal (a->state, "connected");
  assert_int_equal (a->connections, 3);
  assert_int_equal (a->requests, 12345);
  assert_int_equal (a->restarts, 2);
  assert_int_equal (a->backend_pid, 0);   /* 999999 is not running */
  assert_string_equal (b->target, "vdb");
  assert_false (b->have_stats);
  assert_string_equal (b->supervisor, "builtin");
  assert_false (b->running);
  {
    /* held lock: running */
    int fd = open (pidf, O_RDWR);
    g_autoptr (GPtrArray) again = NULL;
    assert_int_equal (flock (fd, LOCK_EX), 0);
    again = vdp_runtime_states (conf, uuid);
    assert_true (((struct vdp_runtime_state *) again->pdata[1])->running);
    assert_int_equal (((struct vdp_runtime_state *) again->pdata[1])->supervisor_pid, getpid ());
    close (fd);
  }
  vdp_runtime_stop (conf, uuid, NULL);
  assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  assert_int_equal (vdp_runtime_states (conf, "../etc")->len, 0);
  g_rmdir (root);
}

static void
test_hook_installed (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("vdp-hk-XXXXXX", NULL);
  g_autofree char *hook = g_build_filename (dir, "virt-dataplane", NULL);

  assert_false (vdp_runtime_hook_installed (dir));
  assert_true (g_file_set_contents (hook, "#!/bin/sh\n", -1, NULL));
  assert_false (vdp_runtime_hook_installed (dir));   /* not executable */
  assert_int_equal (chmod (hook, 0755), 0);
  assert_true (vdp_runtime_hook_installed (dir));
  g_unlink (hook);
  g_rmdir (dir);
}

/* The rules check has for backends, on XML alone and with runtime state. */
static void
test_lint (void **state)
{
  static const char *const xml =
    "<domain type='kvm'><name>l1</name><uuid>8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11</uuid>"
    "<metadata><vdp:dataplane xmlns:vdp='" VDP_XMLNS "'>"
    "<vdp:backend target='vda' type='file' source='/i/a.raw' socket='/run/virt-dataplane/8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11/vda.sock' queues='2' poll-ns='0'><vdp:worker/></vdp:backend>"
    "<vdp:backend target='vdb' type='file' source='/i/b.raw' socket='/tmp/evil.sock' queues='2' poll-ns='0'><vdp:worker/></vdp:backend>"
    "</vdp:dataplane></metadata><memory unit='GiB'>1</memory><vcpu>2</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os><devices>"
    "<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' queues='2'/>"
    "<source type='unix' path='/run/virt-dataplane/8a0c4f0e-0d6b-4c55-9a38-0f1bfa4e8d11/vda.sock'>"
    "<reconnect enabled='yes' timeout='1'/></source><target dev='vda' bus='virtio'/></disk>"
    "<disk type='vhostuser' device='disk'><driver name='qemu' type='raw' queues='2'/>"
    "<source type='unix' path='/tmp/evil.sock'><reconnect enabled='yes' timeout='1'/></source>"
    "<target dev='vdb' bus='virtio'/></disk></devices></domain>";
  g_autoptr (xmlDoc) doc = vdp_xml_read_memory (xml, "l1", NULL);
  g_autoptr (vdp_domain) d = vdp_domain_parse (doc, "l1", NULL);
  g_autoptr (GPtrArray) findings = vdp_findings_new ();
  g_autoptr (GPtrArray) states = g_ptr_array_new_with_free_func ((GDestroyNotify) vdp_runtime_state_free);
  struct vdp_lint_backend_input in = { d, doc, TRUE, states };
  g_autoptr (GString) all = g_string_new (NULL);

  vdp_lint_backends (&in, 1, "/run/virt-dataplane", 0, findings);
  for (guint i = 0; i < findings->len; i++) {
    const struct vdp_finding *f = findings->pdata[i];
    g_string_append_printf (all, "%s %s %s: %s\n", f->domain, f->id, f->subject, f->message);
  }
  for (const char *const *want = (const char *const[]) {
         "l1 VDP101 disk vda: a vhost-user disk, and guest memory is not shared",
         "l1 VDP103 disk vdb: the backend's socket '/tmp/evil.sock' is not under the runtime directory",
         "l1 VDP102 disk vda: the guest runs but its backend does not (nothing in the runtime directory)",
         "(host) VDP104 " LIBVIRT_HOOK_DIR ": no executable virt-dataplane in '" LIBVIRT_HOOK_DIR "'",
         NULL }; *want; want++)
    if (!strstr (all->str, *want))
      fail_msg ("'%s' not in:\n%s", *want, all->str);
  /* not running, hook unknown: only what the XML says */
  g_ptr_array_set_size (findings, 0);
  in.running = FALSE;
  vdp_lint_backends (&in, 1, "/run/virt-dataplane", -1, findings);
  assert_int_equal (findings->len, 2);   /* VDP101, VDP103 for vdb; no VDP102, no VDP104 */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_open_source),
    cmocka_unit_test (test_open_walk),
    cmocka_unit_test (test_ident),
    cmocka_unit_test (test_systemd_argv),
    cmocka_unit_test (test_states),
    cmocka_unit_test (test_hook_installed),
    cmocka_unit_test (test_lint),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
