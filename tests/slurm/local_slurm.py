"""A real one-node Slurm cluster on this machine for tests: Debian's slurmctld + slurmd + munge, private config.

    with LocalSlurm(tmp_dir) as slurm:               # starts munged (if not running), slurmctld, slurmd
        done = slurm.sbatch(["--wait", "slurm/sft_7b.sh", "run.name=x"], cwd=repo)
        slurm.env                                     # SLURM_CONF=... for any other Slurm command

What it sets up: a slurm.conf in `tmp_dir` naming this host as controller and only node (CPUs and memory as
`slurmd -C` reports them), its own ports (free ones, so a system Slurm, if any, is untouched), state, spool and
logs under `tmp_dir`, munge authentication, linuxproc process tracking, no cgroups, no accounting. Jobs run
as the submitting user. Teardown: `scontrol shutdown`, then SIGTERM / SIGKILL of the two daemons by pid file;
munged is left running if it was running before, else stopped.

Needs root (the daemons run as root here) and the Debian packages slurmctld, slurmd, slurm-client, munge
(`make setup` installs them). `available()` says whether they are there.
Simplified / not protected against: no GPUs (scripts asking for GPUs are submitted with --gpus-per-node=0);
one partition; a munge key shared with any other munged on the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd")


def available() -> tuple[bool, str]:
    missing = [b for b in ("slurmctld", "slurmd", "sbatch", "munged", "munge") if shutil.which(b) is None
               and not Path(f"/usr/sbin/{b}").exists()]
    if missing:
        return False, f"Slurm / munge binaries missing: {missing} (make setup installs slurmctld slurmd slurm-client munge)"
    if os.geteuid() != 0:
        return False, "the local Slurm cluster runs its daemons as root"
    return True, ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_line() -> str:
    """NodeName=<host> CPUs=.. RealMemory=.. as slurmd detects this machine (memory kept 10% under)."""
    detected = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    fields = dict(item.split("=", 1) for item in detected.split() if "=" in item)
    memory = int(int(fields.get("RealMemory", "2000")) * 0.9)
    return f"NodeName={fields['NodeName']} CPUs={fields['CPUs']} RealMemory={memory} State=UNKNOWN"


class LocalSlurm:
    def __init__(self, root: Path, start_timeout_s: float = 60.0):
        self.root = Path(root)
        self.start_timeout_s = start_timeout_s
        self.conf = self.root / "slurm.conf"
        self._munged_started = False
        self.host = socket.gethostname()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        r = self.root
        self.conf.write_text(f"""ClusterName=medcopilot-test
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
{_node_line()}
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")

    def _start_munge(self) -> None:
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
            return
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["su", "-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged --force"], check=True,
                       capture_output=True)
        self._munged_started = True

    def start(self) -> "LocalSlurm":
        self.write_config()
        self._start_munge()
        subprocess.run(["slurmctld", "-c", "-i", "-f", str(self.conf)], check=True, env=self.env, capture_output=True)
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=self.env, capture_output=True)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True)
            if state.returncode == 0 and state.stdout.strip() in ("idle", "mix", "alloc"):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"local Slurm did not become ready in {self.start_timeout_s} s; logs in {self.root / 'log'}")

    def sbatch(self, args: list[str], cwd: Path, timeout_s: float = 1800) -> tuple[int, str]:
        """(exit code, job id) of `sbatch --parsable ARGS` (use --wait in ARGS to block until the job ends)."""
        done = subprocess.run(["sbatch", "--parsable", *args], cwd=cwd, env=self.env, capture_output=True,
                              text=True, timeout=timeout_s)
        match = re.search(r"(\d+)", done.stdout)
        if match is None:
            raise RuntimeError(f"sbatch {args} printed no job id: {done.stdout!r} {done.stderr!r}")
        return done.returncode, match.group(1)

    def job_state(self, job_id: str) -> str:
        done = subprocess.run(["scontrol", "show", "job", job_id], env=self.env, capture_output=True, text=True)
        match = re.search(r"JobState=(\S+)", done.stdout)
        return match.group(1) if match else "UNKNOWN"

    def requeue(self, job_id: str) -> None:
        """Requeue a running job, as Slurm does on preemption (the job must be requeueable: --requeue)."""
        subprocess.run(["scontrol", "requeue", job_id], env=self.env, capture_output=True, text=True, check=True)

    def restart_count(self, job_id: str) -> int:
        done = subprocess.run(["scontrol", "show", "job", job_id], env=self.env, capture_output=True, text=True)
        match = re.search(r"Restarts=(\d+)", done.stdout)
        return int(match.group(1)) if match else 0

    def stop(self) -> None:
        subprocess.run(["scontrol", "shutdown"], env=self.env, capture_output=True, timeout=30)
        for daemon in DAEMONS:
            pid_file = self.root / f"{daemon}.pid"
            for _ in range(50):
                if not pid_file.exists():
                    break
                try:
                    pid = int(pid_file.read_text().strip())
                    os.kill(pid, 0)
                except (ValueError, ProcessLookupError, FileNotFoundError):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        if self._munged_started:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)

    def __enter__(self) -> "LocalSlurm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
