"""eiolib.py - tests/eiofs.c for a test: builds the FUSE file system that
fails chosen operations on chosen paths, mounts a real directory through
it, unmounts it at exit, and sets the faults (the control file's lines
"OPS SUBSTRING", see tests/eiofs.c). Used by t-reliability-eio.py and
t-queue-rollback.py."""
import atexit, os, shutil, subprocess, time
import harness
from harness import check, skip, summary


def eiofs_mount(group, src, mnt, ctl, allow_other=False):
    """Builds tests/eiofs.c into TMP and mounts src at mnt through it, with
    the control file ctl (created empty: no faults). SKIPs the whole test
    (group) without /dev/fuse, libfuse3-dev or a FUSE mount; a build
    failure is a FAIL. Returns (the eiofs process, the fault(*lines)
    setter)."""
    if not os.path.exists("/dev/fuse"):
        skip(group, "no /dev/fuse")
        summary()
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"],
                           capture_output=True, text=True)
    if flags.returncode != 0:
        skip(group, "libfuse3-dev is not installed (pkg-config fuse3 failed)")
        summary()
    eiofs = os.path.join(harness.TMP, "eiofs")
    b = subprocess.run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                        os.path.join(harness.TOP, "tests", "eiofs.c"), "-o", eiofs] +
                       flags.stdout.split(), capture_output=True, text=True)
    if b.returncode != 0:
        check("tests/eiofs.c builds", False, b.stderr[-400:])
        summary()
    os.makedirs(mnt, exist_ok=True)
    open(ctl, "w").close()
    fs = subprocess.Popen([eiofs, src, ctl, mnt, "-f", "-s"] +
                          (["-o", "allow_other"] if allow_other else []),
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, start_new_session=True)
    end = time.time() + 5
    while time.time() < end and fs.poll() is None and not os.path.ismount(mnt):
        time.sleep(0.05)
    if not os.path.ismount(mnt):
        err = b""
        if fs.poll() is not None:
            err = fs.stderr.read()
        else:
            fs.kill()
            fs.wait()
        skip(group, "cannot mount a FUSE filesystem here: %s" %
             err.decode("latin-1").strip()[-200:])
        summary()

    @atexit.register        # runs before harness's cleanup (atexit is LIFO)
    def _unmount():
        open(ctl, "w").close()
        if os.path.ismount(mnt):
            um = ["fusermount3", "-u", mnt] if shutil.which("fusermount3") else ["umount", mnt]
            if subprocess.run(um, capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mnt], capture_output=True)
        try:
            fs.wait(5)
        except subprocess.TimeoutExpired:
            fs.kill()
            fs.wait()

    def fault(*lines):
        """sets the faults: lines "OPS SUBSTRING" (see tests/eiofs.c)"""
        with open(ctl + ".new", "w") as f:
            f.write("".join(l + "\n" for l in lines))
        os.rename(ctl + ".new", ctl)

    return fs, fault
