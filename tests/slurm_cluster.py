"""A real single-node SLURM cluster, started from the Debian packages, for tests.

`SlurmCluster(workdir)` brings up, on this machine and without systemd:

* ``munged``    (as the ``munge`` user, private key and socket),
* ``mariadbd``  (as the ``mysql`` user, private data directory, TCP on 127.0.0.1),
* ``slurmdbd``  (accounting, so that ``sacct`` works as on a production cluster),
* ``slurmctld`` and ``slurmd`` (one node, one partition ``debug``).

Everything (configuration, keys, sockets, state, spool, pid and log files) lives
in ``workdir``; every daemon listens on a free port chosen at start, so the
cluster does not collide with a system SLURM or with a second test cluster.
Client commands (``sbatch``, ``sacct``, ``squeue``, ``srun`` inside jobs) find
the cluster through the ``SLURM_CONF`` environment variable only.

``stop()`` cancels the cluster's jobs and then ends exactly the processes that
``start()`` launched (their pids are recorded in ``workdir/cluster.json`` and
checked against ``/proc/<pid>/cmdline`` before any signal is sent).

Requirements: root (``slurmd`` must be able to start jobs as their owner), the
Debian 12 packages ``slurm-wlm slurmdbd munge mariadb-server`` and the system
users ``munge``, ``mysql`` and ``slurm`` that they create.

Standalone use, for a developer::

    python tests/slurm_cluster.py up /tmp/genorisk-slurm     # prints export SLURM_CONF=...
    python tests/slurm_cluster.py status /tmp/genorisk-slurm
    python tests/slurm_cluster.py down /tmp/genorisk-slurm
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = [
    "SlurmCluster",
    "ClusterStartError",
    "run_workflow_on_slurm",
    "SLURM_PROFILE",
    "REQUIRED_PROGRAMS",
]

#: Programs a cluster needs; a missing one is reported by name with the apt command.
REQUIRED_PROGRAMS = (
    "munged",
    "mariadb-install-db",
    "mariadbd",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sacctmgr",
    "sinfo",
    "squeue",
    "scancel",
    "sbatch",
    "sacct",
)
APT_HINT = "apt-get install -y slurm-wlm slurmdbd munge mariadb-server"

STATE_FILE = "cluster.json"
#: Where SLURM clients on a compute node look for slurm.conf when SLURM_CONF is
#: unset and /etc/slurm/slurm.conf does not exist (a configless slurmd puts a
#: link here). Needed because snakemake's jobstep plugin removes SLURM_CONF from
#: the environment of the `srun` it starts inside each job.
NODE_CONF_LINK = Path("/run/slurm/conf/slurm.conf")
DEFAULT_SLURM_CONF = Path("/etc/slurm/slurm.conf")
#: Set in every daemon's environment to the workdir; stop() signals a recorded
#: pid only if /proc/<pid>/environ still carries it (guards against pid reuse).
MARKER_VAR = "GENORISK_SLURM_CLUSTER"


def _linked_cluster_alive(link: Path) -> bool:
    """True if a daemon recorded by the cluster that `link` points into still runs.

    A cluster folder records its daemons' pids in ``cluster.json``; a pid counts
    only while its start-up environment carries that folder as MARKER_VAR, so a
    reused pid does not keep a dead cluster's link alive. A folder without a
    readable record is treated as alive (it may be starting, or not ours).
    """
    workdir = Path(os.path.realpath(link)).parent.parent
    try:
        daemons = json.loads((workdir / STATE_FILE).read_text())["daemons"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return any(
        _pid_alive(int(info["pid"])) and _pid_environ_marker(int(info["pid"])) == str(workdir)
        for info in daemons.values()
    )


class ClusterStartError(RuntimeError):
    """The cluster could not be brought up; the message carries the daemons' log tails."""


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"    (cannot read: {exc.strerror})"
    if not text.strip():
        return "    (empty)"
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def _pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # the state letter follows the parenthesised command name
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _pid_environ_marker(pid: int) -> str | None:
    """The value of MARKER_VAR in the start-up environment of `pid` (None if absent)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            entries = fh.read().split(b"\0")
    except OSError:
        return None
    prefix = MARKER_VAR.encode() + b"="
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


class SlurmCluster:
    """A single-node SLURM cluster with accounting, confined to `workdir`.

    Parameters
    ----------
    workdir : path-like
        Folder for all cluster files. Created if missing; must be reachable
        (execute permission on every parent) by the ``munge``, ``mysql`` and
        ``slurm`` users, so not below a 0700 folder such as pytest's basetemp.
    start_timeout : float
        Seconds to wait for each daemon to answer, and for the node to be idle.
    node_conf_link : bool
        Publish ``slurm.conf`` as ``/run/slurm/conf/slurm.conf``, where SLURM
        clients on a compute node find it without ``SLURM_CONF``. Needed for
        Snakemake jobs (the jobstep plugin drops ``SLURM_CONF`` before its inner
        ``srun``); only one cluster per machine can have it. Start fails if
        ``/etc/slurm/slurm.conf`` exists, since clients would prefer that one.
    extra_slurm_conf : str
        Lines appended to the generated ``slurm.conf`` (later lines win).

    Attributes
    ----------
    slurm_conf : Path
        The ``slurm.conf`` that client commands must see as ``SLURM_CONF``.
    account, partition, cluster_name, node_name : str
        Names registered in the cluster (the account exists in slurmdbd and
        the user who started the cluster is associated with it).
    bringup_seconds : float or None
        Wall time of the last successful ``start()``.

    Use as a context manager or call ``start()`` / ``stop()``. While running,
    ``SLURM_CONF`` is exported into ``os.environ`` (restored by ``stop()``), so
    child processes such as ``snakemake --executor slurm`` reach this cluster.
    """

    cluster_name = "genorisk"
    account = "genorisk"
    partition = "debug"
    node_name = "genorisk-node"

    def __init__(
        self,
        workdir,
        *,
        start_timeout: float = 60.0,
        node_conf_link: bool = True,
        extra_slurm_conf: str = "",
    ):
        self.workdir = Path(workdir).resolve()
        self.start_timeout = float(start_timeout)
        self.node_conf_link = node_conf_link
        self.extra_slurm_conf = extra_slurm_conf
        self.slurm_conf = self.workdir / "etc" / "slurm.conf"
        self.bringup_seconds: float | None = None
        #: seconds spent in each start step (for reports)
        self.bringup_steps: dict[str, float] = {}
        #: every daemon pid this object launched, by name; kept after stop() for checks
        self.launched_pids: dict[str, int] = {}
        self._popens: dict[str, subprocess.Popen] = {}
        self._daemons: dict[str, dict] = {}  # name -> {"pid", "argv", "logs"}
        self._saved_slurm_conf: str | None = None
        self._exported = False

    # ------------------------------------------------------------------ paths
    def _dir(self, name: str) -> Path:
        return self.workdir / name

    @property
    def munge_socket(self) -> Path:
        return self._dir("munge") / "munge.socket"

    def env(self, base: dict | None = None) -> dict[str, str]:
        """A copy of `base` (default ``os.environ``) pointing client commands at this cluster."""
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.slurm_conf)
        return env

    def run(self, argv, *, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run a SLURM client command (``sacct``, ``squeue``, ...) against this cluster, text output."""
        return subprocess.run(
            list(argv),
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    # ------------------------------------------------------------ life cycle
    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> SlurmCluster:
        """Write the configuration, start all daemons, wait until the node is idle.

        Raises
        ------
        ClusterStartError
            If a program, user or permission is missing, a daemon exits or does
            not answer within ``start_timeout``; the message holds the tail of
            every daemon log. Daemons started so far are stopped first.
        """
        t0 = time.monotonic()
        self._check_prerequisites()
        self.bringup_steps = {}
        try:
            for step in (
                self._prepare_workdir,
                self._write_configuration,
                self._start_munge,
                self._start_mariadb,
                self._start_slurmdbd,
                self._register_accounting,
                self._start_slurmctld,
                self._link_node_conf,
                self._start_slurmd,
                self._wait_node_idle,
            ):
                t_step = time.monotonic()
                step()
                self.bringup_steps[step.__name__.lstrip("_")] = time.monotonic() - t_step
        except BaseException as exc:
            report = self.logs_report()
            self.stop()
            if isinstance(exc, ClusterStartError):
                raise ClusterStartError(f"{exc}\n\n{report}") from None
            if isinstance(exc, Exception):
                raise ClusterStartError(f"SLURM cluster start failed: {exc!r}\n\n{report}") from exc
            raise
        self.bringup_seconds = time.monotonic() - t0
        self._export_env()
        return self

    def stop(self) -> None:
        """Cancel this cluster's jobs, then end the daemons this object (or `up`) started.

        Only pids recorded at start are signalled, and only while their start-up
        environment still carries this cluster's marker (so a pid reused by an
        unrelated process is left alone). Safe to call more than once.
        """
        if not self._daemons:
            self._load_state()
        if self._daemons.get("slurmctld") and _pid_alive(self._daemons["slurmctld"]["pid"]):
            self._cancel_all_jobs()
        # reverse start order: node, controller, accounting, database, auth
        for name in reversed(list(self._daemons)):
            self._stop_daemon(name)
        self._daemons.clear()
        self._popens.clear()
        self._unlink_node_conf()
        state = self.workdir / STATE_FILE
        if state.exists():
            state.unlink()
        self._restore_env()

    # -------------------------------------------------------- prerequisites
    def _check_prerequisites(self) -> None:
        problems = []
        missing = [prog for prog in REQUIRED_PROGRAMS if shutil.which(prog) is None]
        if missing:
            problems.append(f"programs not found: {', '.join(missing)} (install: {APT_HINT})")
        if os.geteuid() != 0:
            problems.append("must run as root (slurmd starts jobs as their owners)")
        for user in ("munge", "mysql", "slurm"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                problems.append(f"system user '{user}' missing (created by: {APT_HINT})")
        # the daemons' users must be able to reach the workdir (made 0755 itself)
        for parent in self.workdir.parents:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                problems.append(
                    f"{parent}: not traversable by other users (mode "
                    f"{oct(parent.stat().st_mode & 0o777)}); the munge/mysql/slurm "
                    "daemons cannot reach the cluster folder"
                )
                break
        if self.node_conf_link:
            if DEFAULT_SLURM_CONF.exists():
                problems.append(
                    f"{DEFAULT_SLURM_CONF} exists: srun inside Snakemake jobs (which run "
                    "without SLURM_CONF) would use that cluster, not this one"
                )
            if NODE_CONF_LINK.is_symlink() and (
                not NODE_CONF_LINK.exists() or not _linked_cluster_alive(NODE_CONF_LINK)
            ):
                # left by a test cluster whose folder is gone or whose daemons were
                # killed with it (a killed test run never reaches stop())
                NODE_CONF_LINK.unlink()
            if NODE_CONF_LINK.exists():
                target = Path(os.path.realpath(NODE_CONF_LINK))
                problems.append(
                    f"{NODE_CONF_LINK} exists (-> {target}): another SLURM cluster with jobs "
                    f"runs on this machine; stop it first (python {Path(__file__).name} "
                    f"down {target.parent.parent}) or pass node_conf_link=False"
                )
        if problems:
            raise ClusterStartError("SLURM cluster cannot start:\n  - " + "\n  - ".join(problems))

    def _prepare_workdir(self) -> None:
        if (self.workdir / STATE_FILE).exists():
            raise ClusterStartError(
                f"{self.workdir / STATE_FILE}: a cluster is already recorded in this folder; "
                "stop it first (python tests/slurm_cluster.py down DIR)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        owners = {
            "etc": "root",
            "log": "root",
            "munge": "munge",
            "mysql": "mysql",
            "mysql/data": "mysql",
            "slurmdbd": "slurm",
            "slurmctld": "slurm",
            "slurmctld/state": "slurm",
            "slurmd": "root",
            "slurmd/spool": "root",
        }
        for sub, user in owners.items():
            path = self._dir(sub)
            path.mkdir(parents=True, exist_ok=True)
            pw = pwd.getpwnam(user)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            # munged refuses a socket folder writable by others; 0755 lets clients in
            path.chmod(0o700 if sub == "mysql/data" else 0o755)

    # ------------------------------------------------------- configuration
    def _write_configuration(self) -> None:
        self.hostname = socket.gethostname().split(".")[0]
        self.ports = {name: _free_port() for name in ("mariadb", "slurmdbd", "slurmctld", "slurmd")}
        self._db_password = secrets.token_hex(16)
        node = self._detect_node_hardware()

        munge_key = self._dir("munge") / "munge.key"
        munge_key.write_bytes(os.urandom(1024))
        self._chown(munge_key, "munge", 0o400)

        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        ctld, slurmd, dbd = (
            self._dir("slurmctld"),
            self._dir("slurmd"),
            self._dir("slurmdbd"),
        )
        self.slurm_conf.write_text(
            f"# generated by tests/slurm_cluster.py for {self.workdir}\n"
            f"ClusterName={self.cluster_name}\n"
            f"SlurmctldHost={self.hostname}(127.0.0.1)\n"
            "SlurmUser=slurm\nSlurmdUser=root\n"
            f"SlurmctldPort={self.ports['slurmctld']}\nSlurmdPort={self.ports['slurmd']}\n"
            f"{auth}CredType=cred/munge\n"
            f"StateSaveLocation={ctld / 'state'}\nSlurmdSpoolDir={slurmd / 'spool'}\n"
            f"SlurmctldPidFile={ctld / 'slurmctld.pid'}\nSlurmdPidFile={slurmd / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={ctld / 'slurmctld.log'}\nSlurmdLogFile={slurmd / 'slurmd.log'}\n"
            "SlurmctldDebug=info\nSlurmdDebug=info\n"
            # no cgroups in containers: track processes through /proc, no task binding
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            # /proc sampling gives sacct MaxRSS/CPU time as on a production cluster
            "JobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=task=5\n"
            "MpiDefault=none\nSwitchType=switch/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=127.0.0.1\nAccountingStoragePort={self.ports['slurmdbd']}\n"
            # clients authenticate to slurmdbd through this munge socket, not AuthInfo
            f"AccountingStoragePass={self.munge_socket}\n"
            # jobs must name an account known to slurmdbd, as on most clusters
            "AccountingStorageEnforce=associations\n"
            "JobCompType=jobcomp/none\n"
            # keep sbatch --comment (Snakemake puts the rule name there) for sacct
            "AccountingStoreFlags=job_comment\n"
            # finished jobs stay visible to squeue/scontrol for 10 minutes
            "MinJobAge=600\nSlurmctldTimeout=30\nSlurmdTimeout=30\nReturnToService=2\n"
            "SchedulerType=sched/backfill\nMailProg=/bin/true\n"
            f"NodeName={self.node_name} NodeHostname={self.hostname} NodeAddr=127.0.0.1 "
            f"{node} State=UNKNOWN\n"
            f"PartitionName={self.partition} Nodes={self.node_name} Default=YES "
            "MaxTime=INFINITE State=UP\n"
            + (f"# extra settings\n{self.extra_slurm_conf.strip()}\n" if self.extra_slurm_conf else "")
        )
        self.slurm_conf.chmod(0o644)

        dbd_conf = self._dir("etc") / "slurmdbd.conf"
        dbd_conf.write_text(
            f"{auth}DbdAddr=127.0.0.1\nDbdHost={self.hostname}\nDbdPort={self.ports['slurmdbd']}\n"
            "SlurmUser=slurm\nDebugLevel=info\n"
            f"LogFile={dbd / 'slurmdbd.log'}\nPidFile={dbd / 'slurmdbd.pid'}\n"
            "StorageType=accounting_storage/mysql\n"
            f"StorageHost=127.0.0.1\nStoragePort={self.ports['mariadb']}\n"
            f"StorageUser=slurm\nStoragePass={self._db_password}\nStorageLoc=slurm_acct_db\n"
        )
        # slurmdbd refuses a configuration (it holds a password) readable by others
        self._chown(dbd_conf, "slurm", 0o600)

        init_sql = self._dir("mysql") / "init.sql"
        init_sql.write_text(
            "".join(
                f"CREATE OR REPLACE USER 'slurm'@'{host}' IDENTIFIED BY '{self._db_password}';\n"
                f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';\n"
                for host in ("127.0.0.1", "localhost")
            )
        )
        self._chown(init_sql, "mysql", 0o600)

    @staticmethod
    def _detect_node_hardware() -> str:
        """The node's CPUs/sockets/cores/threads/memory as slurmd itself detects them."""
        out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
        first = out.splitlines()[0].split()
        keep = (
            "CPUs",
            "Boards",
            "SocketsPerBoard",
            "CoresPerSocket",
            "ThreadsPerCore",
            "RealMemory",
        )
        fields = [f for f in first if f.split("=", 1)[0] in keep]
        if not any(f.startswith("RealMemory=") for f in fields):
            raise ClusterStartError(f"slurmd -C gave no RealMemory: {out!r}")
        return " ".join(fields)

    @staticmethod
    def _chown(path: Path, user: str, mode: int) -> None:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        path.chmod(mode)

    # ------------------------------------------------------------- daemons
    def _launch(self, name: str, argv: list[str], logs: list[Path], user: str | None = None) -> None:
        """Start `argv` detached (own session, stdin from /dev/null) and record its pid."""
        out = self._dir("log") / f"{name}.out"
        with open(out, "ab") as fh:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
                cwd=self.workdir,
                env={**self.env(), MARKER_VAR: str(self.workdir)},
            )
        self._popens[name] = proc
        self.launched_pids[name] = proc.pid
        self._daemons[name] = {
            "pid": proc.pid,
            "argv": argv,
            "logs": [str(p) for p in [out, *logs]],
        }
        self._save_state()

    def _wait_for(self, name: str, ready, what: str, timeout: float | None = None) -> None:
        """Poll `ready()` until true; fail at once if daemon `name` exits."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            if ready():
                return
            proc = self._popens.get(name)
            if proc is not None and proc.poll() is not None:
                raise ClusterStartError(f"{name} exited with status {proc.returncode} before {what}")
            if time.monotonic() > deadline:
                raise ClusterStartError(f"{name}: no {what} within {self.start_timeout:.0f} s")
            time.sleep(0.1)

    def _start_munge(self) -> None:
        d = self._dir("munge")
        self._launch(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={d / 'munge.key'}",
                f"--pid-file={d / 'munged.pid'}",
                f"--log-file={d / 'munged.log'}",
                f"--seed-file={d / 'munged.seed'}",
            ],
            [d / "munged.log"],
            user="munge",
        )
        self._wait_for("munged", self.munge_socket.exists, "socket")

    def _start_mariadb(self) -> None:
        d = self._dir("mysql")
        install = subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                "--user=mysql",
                f"--datadir={d / 'data'}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise ClusterStartError(
                f"mariadb-install-db failed (status {install.returncode}):\n"
                f"{install.stdout[-3000:]}{install.stderr[-3000:]}"
            )
        self._launch(
            "mariadbd",
            [
                "mariadbd",
                "--no-defaults",
                "--user=mysql",
                f"--datadir={d / 'data'}",
                f"--socket={d / 'mysqld.sock'}",
                f"--pid-file={d / 'mysqld.pid'}",
                f"--log-error={d / 'mysqld.err'}",
                "--bind-address=127.0.0.1",
                f"--port={self.ports['mariadb']}",
                "--skip-name-resolve",
                f"--init-file={d / 'init.sql'}",
                # the minimum values slurmdbd accepts without an error line in its log
                "--innodb-buffer-pool-size=128M",
                "--innodb-lock-wait-timeout=900",
                # a throw-away database: no flush per commit
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ],
            [d / "mysqld.err"],
        )
        self._wait_for("mariadbd", lambda: _port_open(self.ports["mariadb"]), "TCP port")

    def _start_slurmdbd(self) -> None:
        self._launch(
            "slurmdbd",
            ["slurmdbd", "-D"],  # reads slurmdbd.conf next to SLURM_CONF,
            [self._dir("slurmdbd") / "slurmdbd.log"],
        )
        self._wait_for("slurmdbd", lambda: _port_open(self.ports["slurmdbd"]), "TCP port")

    def _register_accounting(self) -> None:
        user = pwd.getpwuid(os.geteuid()).pw_name
        for argv in (
            ["sacctmgr", "-i", "add", "cluster", self.cluster_name],
            [
                "sacctmgr",
                "-i",
                "add",
                "account",
                self.account,
                f"Cluster={self.cluster_name}",
                "Description=genorisk tests",
                "Organization=genorisk",
            ],
            [
                "sacctmgr",
                "-i",
                "add",
                "user",
                user,
                f"Account={self.account}",
                f"Cluster={self.cluster_name}",
                f"DefaultAccount={self.account}",
            ],
        ):
            done = self.run(argv, check=False, timeout=self.start_timeout)
            # a reused workdir already holds them; sacctmgr then exits with 1
            known = "already exists" in done.stdout or "Nothing new added" in done.stdout
            if done.returncode != 0 and not known:
                raise ClusterStartError(
                    f"{' '.join(argv)} failed (status {done.returncode}): {done.stdout.strip()} {done.stderr.strip()}"
                )

    def _start_slurmctld(self) -> None:
        self._launch(
            "slurmctld",
            ["slurmctld", "-D", "-i", "-f", str(self.slurm_conf)],
            [self._dir("slurmctld") / "slurmctld.log"],
        )
        self._wait_for("slurmctld", lambda: _port_open(self.ports["slurmctld"]), "TCP port")

    def _start_slurmd(self) -> None:
        self._launch(
            "slurmd",
            ["slurmd", "-D", "-N", self.node_name, "-f", str(self.slurm_conf)],
            [self._dir("slurmd") / "slurmd.log"],
        )

    def _link_node_conf(self) -> None:
        if not self.node_conf_link:
            return
        NODE_CONF_LINK.parent.mkdir(parents=True, exist_ok=True)
        NODE_CONF_LINK.symlink_to(self.slurm_conf)

    def _unlink_node_conf(self) -> None:
        """Remove the node link if it is ours (also after `up` in another process)."""
        if NODE_CONF_LINK.is_symlink() and Path(os.readlink(NODE_CONF_LINK)) == self.slurm_conf:
            NODE_CONF_LINK.unlink()

    def _node_state(self) -> str:
        done = self.run(
            ["sinfo", "--noheader", "--Node", "--nodes", self.node_name, "--format=%T"],
            check=False,
            timeout=10,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    def _wait_node_idle(self) -> None:
        try:
            self._wait_for("slurmd", lambda: self._node_state() == "idle", "idle node")
        except ClusterStartError as exc:
            node = self.run(["scontrol", "show", "node", self.node_name], check=False, timeout=10)
            raise ClusterStartError(f"{exc}; last state '{self._node_state()}'\n{node.stdout}{node.stderr}") from None
        # daemons other than slurmd must still be up
        for name, proc in self._popens.items():
            if proc.poll() is not None:
                raise ClusterStartError(f"{name} exited with status {proc.returncode}")

    # ----------------------------------------------------------- shutdown
    def _cancel_all_jobs(self) -> None:
        """Cancel every job of this cluster and wait (max 30 s) until none is left running."""
        self.run(
            ["scancel", "--full", f"--partition={self.partition}"],
            check=False,
            timeout=30,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = self.run(
                [
                    "squeue",
                    "--noheader",
                    "--states=PENDING,RUNNING,COMPLETING,SUSPENDED",
                    "--format=%A",
                ],
                check=False,
                timeout=10,
            )
            if done.returncode != 0 or not done.stdout.strip():
                return
            time.sleep(0.2)

    def _is_ours(self, name: str) -> bool:
        """The recorded pid is still the process this cluster started (not a reused pid)."""
        return _pid_environ_marker(self._daemons[name]["pid"]) == str(self.workdir)

    def _stop_daemon(self, name: str, grace: float = 15.0) -> None:
        info = self._daemons[name]
        pid = info["pid"]
        proc = self._popens.get(name)
        if proc is not None and proc.poll() is not None:
            return  # already exited and reaped
        if not _pid_alive(pid) or not self._is_ours(name):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:  # exited since the check above
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc is not None:
                if proc.poll() is not None:
                    return
            elif not _pid_alive(pid):
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if proc is not None:
            proc.wait(timeout=10)

    # -------------------------------------------------------------- state
    def _save_state(self) -> None:
        state = {
            "workdir": str(self.workdir),
            "slurm_conf": str(self.slurm_conf),
            "daemons": self._daemons,
        }
        tmp = self.workdir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.workdir / STATE_FILE)

    def _load_state(self) -> None:
        path = self.workdir / STATE_FILE
        if path.exists():
            self._daemons = json.loads(path.read_text())["daemons"]

    def is_running(self) -> dict[str, bool]:
        """For each recorded daemon: whether its process is alive."""
        if not self._daemons:
            self._load_state()
        return {name: _pid_alive(info["pid"]) and self._is_ours(name) for name, info in self._daemons.items()}

    def logs_report(self, lines: int = 40) -> str:
        """The last `lines` lines of every daemon's log and captured output, for error messages."""
        if not self._daemons:
            self._load_state()
        parts = []
        for name, info in self._daemons.items():
            for log in info["logs"]:
                parts.append(f"--- {name}: {log} (last {lines} lines)\n{_tail(Path(log), lines)}")
        mysql_err = self._dir("mysql") / "mysqld.err"
        if "mariadbd" not in self._daemons and mysql_err.exists():
            parts.append(f"--- mariadbd: {mysql_err}\n{_tail(mysql_err, lines)}")
        return "\n".join(parts) if parts else "(no daemon was started)"

    # ---------------------------------------------------------------- env
    def _export_env(self) -> None:
        if not self._exported:
            self._saved_slurm_conf = os.environ.get("SLURM_CONF")
            os.environ["SLURM_CONF"] = str(self.slurm_conf)
            self._exported = True

    def _restore_env(self) -> None:
        if self._exported:
            if self._saved_slurm_conf is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = self._saved_slurm_conf
            self._exported = False


# ---------------------------------------------------------------------------
# Reusable helper: run a Snakemake workflow on a SlurmCluster.
# Used by tests/test_slurm.py for the smoke workflow; meant for the full
# genorisk demo workflow as well.
# ---------------------------------------------------------------------------

#: The workflow profile shipped with genorisk for SLURM clusters.
SLURM_PROFILE = Path(__file__).resolve().parents[1] / "workflow" / "profiles" / "slurm"


def run_workflow_on_slurm(
    cluster: SlurmCluster,
    workdir,
    snakefile,
    configfile=None,
    extra_args=(),
    *,
    profile=SLURM_PROFILE,
    env: dict | None = None,
    timeout: float = 3600.0,
) -> subprocess.CompletedProcess:
    """Run `snakefile` in `workdir` with the slurm executor on `cluster`.

    Runs ``python -m snakemake`` of the current interpreter (the venv) with
    ``--profile profile`` (a site profile: the workflow's own profile next to its
    Snakefile, if any, is loaded with it) and the running cluster's ``SLURM_CONF``.
    The profile's ``GENORISK_SLURM_ACCOUNT`` / ``GENORISK_SLURM_PARTITION`` are
    set to the cluster's account and partition. The venv's ``bin`` is put first
    on PATH, so ``shell:`` rules in the jobs find its ``python`` and tools.
    The first job status check comes after 1 s instead of the plugin's 40 s,
    and SLURM job logs are kept (``workdir/.snakemake/slurm_logs``).

    Parameters
    ----------
    cluster : SlurmCluster
        A started cluster.
    workdir : path-like
        Snakemake's ``--directory``; created if missing.
    snakefile, configfile : path-like
        ``--snakefile`` and, if not None, ``--configfile``.
    extra_args : sequence of str
        Further Snakemake arguments; they override the profile per key.
    profile : path-like
        Site profile folder (default: ``workflow/profiles/slurm``).
    env : dict, optional
        Variables added to the environment (after the defaults above).
    timeout : float
        Seconds before the run is killed (``subprocess.TimeoutExpired``).

    Returns
    -------
    subprocess.CompletedProcess
        ``stdout`` holds Snakemake's combined stdout and stderr (also written
        to ``workdir/snakemake-slurm.log``); ``returncode`` 0 means success.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--profile",
        str(profile),
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
    ]
    if configfile is not None:
        argv += ["--configfile", str(configfile)]
    argv += [str(arg) for arg in extra_args]
    run_env = cluster.env()
    run_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{run_env.get('PATH', '')}"
    run_env["GENORISK_SLURM_ACCOUNT"] = cluster.account
    run_env["GENORISK_SLURM_PARTITION"] = cluster.partition
    run_env.update(env or {})
    done = subprocess.run(
        argv,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        cwd=workdir,
    )
    (workdir / "snakemake-slurm.log").write_text(done.stdout)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per start step [60]")
    parser.add_argument(
        "--no-node-conf-link",
        action="store_true",
        help=f"do not publish slurm.conf as {NODE_CONF_LINK} (Snakemake jobs then cannot srun)",
    )
    args = parser.parse_args(argv)
    cluster = SlurmCluster(
        args.workdir,
        start_timeout=args.timeout,
        node_conf_link=not args.no_node_conf_link,
    )
    if args.action == "up":
        try:
            cluster.start()
        except ClusterStartError as exc:
            print(exc, file=sys.stderr)
            return 1
        steps = ", ".join(f"{k} {v:.1f}" for k, v in cluster.bringup_steps.items())
        print(
            f"# cluster up in {cluster.bringup_seconds:.1f} s ({steps}); "
            f"account={cluster.account} partition={cluster.partition}",
            file=sys.stderr,
        )
        print(f"export SLURM_CONF={cluster.slurm_conf}")
    elif args.action == "down":
        cluster.stop()
    else:
        running = cluster.is_running()
        for name, alive in running.items():
            print(f"{name}\t{'running' if alive else 'stopped'}")
        if not running:
            print("no cluster recorded in", args.workdir)
        return 0 if running and all(running.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
