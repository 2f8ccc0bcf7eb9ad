"""The BPF object built from bpf/minbtf/vmlinux.h (the build's fallback where
no kernel BTF exists at build time) must load on the running kernel: every
CO-RE relocation of the minimal types resolves against the real BTF."""
import os
import shutil
import subprocess
import uuid


from conftest import cannot_run


def test_minimal_btf_object_loads(build_dir):
    obj = build_dir / "bpf" / "spanwire_minbtf.bpf.o"
    assert obj.exists(), "the fallback object is built by every build"
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if os.geteuid() != 0:
        cannot_run("BPF unavailable: not root, cannot load BPF programs")
    if not os.path.ismount("/sys/fs/bpf"):
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
    pin = f"/sys/fs/bpf/spanwire-minbtf-{uuid.uuid4().hex[:8]}"
    try:
        res = subprocess.run([bpftool, "prog", "loadall", str(obj), pin], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr[-3000:]
        progs = os.listdir(pin)
        assert "tp_sys_exit" in progs and "tp_enter_read" in progs, progs
        assert "uprobe_ssl_write" in progs and "uretprobe_ssl_read_ex" in progs, progs
        assert "sw_sock_ops" in progs, progs
        assert "uprobe_go_tls_read_ret" in progs and "uprobe_go_newproc" in progs, progs
        # 14 enter hooks, close, process exit and exec, the shared exit, 9 TLS probes, sock_ops, 8 Go probes
        assert len(progs) == 36, progs
    finally:
        shutil.rmtree(pin, ignore_errors=True)
