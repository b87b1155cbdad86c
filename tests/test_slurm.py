"""Integration tests on a real single-node SLURM cluster (see tests/slurm_cluster.py).

The cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd from the Debian
packages) is brought up once for this module. If it cannot start, the tests
ERROR with the daemons' log tails; they never skip. Deselect them on a machine
without the packages with ``pytest -m "not slurm"``.

For other workflows (the genorisk demo workflow) reuse
``slurm_cluster.run_workflow_on_slurm(cluster, workdir, snakefile, configfile,
extra_args)`` with the ``slurm_cluster`` fixture below.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from slurm_cluster import (
    SLURM_PROFILE,
    ClusterStartError,
    SlurmCluster,
    run_workflow_on_slurm,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SMOKE_SNAKEFILE = Path(__file__).parent / "data" / "slurm_smoke" / "Snakefile"
# threads and mem_mb declared in the smoke Snakefile, per rule
SMOKE_THREADS = {"count": 1, "total": 2}
SMOKE_MEM_MB = {"count": 100, "total": 200}


def _running(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cluster_folder() -> Path:
    """A fresh folder the munge/mysql/slurm users can reach (pytest's basetemp is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="genorisk-slurm-"))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def slurm_cluster(request):
    """A running SlurmCluster for this module; stopped and removed even if tests fail."""
    folder = _cluster_folder()
    cluster = SlurmCluster(folder)

    def teardown():
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)

    # registered before start(): a half-started cluster is stopped too
    request.addfinalizer(teardown)
    cluster.start()
    print(
        f"\nSLURM cluster up in {cluster.bringup_seconds:.1f} s: "
        + ", ".join(f"{k} {v:.1f}" for k, v in cluster.bringup_steps.items())
    )
    return cluster


def _sacct(cluster: SlurmCluster, job_ids) -> dict[str, dict[str, str]]:
    fields = [
        "JobIDRaw",
        "JobName",
        "State",
        "ExitCode",
        "AllocCPUS",
        "ReqMem",
        "Account",
        "Partition",
        "Comment",
    ]
    done = cluster.run(
        [
            "sacct",
            "--allocations",
            "--parsable2",
            "--noheader",
            "--jobs",
            ",".join(job_ids),
            f"--format={','.join(fields)}",
        ]
    )
    rows = [dict(zip(fields, line.split("|"), strict=False)) for line in done.stdout.splitlines() if line]
    return {row["JobIDRaw"]: row for row in rows}


def _sacct_run(cluster: SlurmCluster, run_name: str) -> set[str]:
    """Job ids of every job submitted under the Snakemake run id `run_name`."""
    done = cluster.run(
        [
            "sacct",
            "--allocations",
            "--parsable2",
            "--noheader",
            "--starttime",
            "now-1days",
            "--name",
            run_name,
            "--format=JobIDRaw",
        ]
    )
    return set(done.stdout.split())


def test_smoke_workflow_runs_every_rule_as_a_completed_slurm_job(slurm_cluster, tmp_path):
    t0 = time.monotonic()
    done = run_workflow_on_slurm(
        slurm_cluster,
        tmp_path / "run",
        SMOKE_SNAKEFILE,
        None,
        ["--retries", "0"],
        timeout=600,
    )
    wall = time.monotonic() - t0
    print(f"\nsmoke workflow on SLURM: {wall:.1f} s wall")
    assert done.returncode == 0, (
        f"snakemake failed (status {done.returncode}):\n{done.stdout[-6000:]}\n\n{slurm_cluster.logs_report(lines=15)}"
    )
    assert "Using profile" in done.stdout and "profiles/slurm" in done.stdout  # the site profile was read
    run = tmp_path / "run"
    assert (run / "summary.tsv").read_text() == "total\t265\n"  # sum(1..10) + sum(1..20)

    # what each job saw from inside its SLURM job step
    records = {}
    for path in sorted((run / "jobs").glob("*.tsv")):
        rule, job_id, step_id, cpus, node, partition = path.read_text().rstrip("\n").split("\t")
        records[path.stem] = dict(
            rule=rule,
            job_id=job_id,
            step_id=step_id,
            cpus=cpus,
            node=node,
            partition=partition,
        )
    assert sorted(records) == ["count_a", "count_b", "total"]
    job_ids = [rec["job_id"] for rec in records.values()]
    assert all(job_id.isdigit() for job_id in job_ids)
    assert len(set(job_ids)) == 3, "every rule instance must be its own SLURM job"
    for name, rec in records.items():
        assert rec["step_id"].isdigit(), f"{name}: shell did not run in an srun step"
        assert rec["node"] == slurm_cluster.node_name, name
        assert rec["partition"] == slurm_cluster.partition, name
        assert rec["cpus"] == str(SMOKE_THREADS[rec["rule"]]), f"{name}: threads -> cpus"

    # what the accounting database recorded for those jobs
    accounted = _sacct(slurm_cluster, job_ids)
    assert sorted(accounted) == sorted(job_ids)
    for name, rec in records.items():
        row = accounted[rec["job_id"]]
        assert row["State"] == "COMPLETED", f"{name}: {row}"
        assert row["ExitCode"] == "0:0", f"{name}: {row}"
        assert row["AllocCPUS"] == str(SMOKE_THREADS[rec["rule"]]), f"{name}: {row}"
        assert row["ReqMem"] == f"{SMOKE_MEM_MB[rec['rule']]}M", f"{name}: {row}"
        assert row["Account"] == slurm_cluster.account, f"{name}: {row}"
        assert row["Partition"] == slurm_cluster.partition, f"{name}: {row}"
        assert rec["rule"] in row["Comment"], f"{name}: {row}"  # snakemake's --comment
    # all three ran under one Snakemake run id, and nothing else (no retried or
    # extra jobs) was submitted under it
    run_names = {row["JobName"] for row in accounted.values()}
    assert len(run_names) == 1
    assert _sacct_run(slurm_cluster, run_names.pop()) == set(job_ids)


def test_profile_is_a_slurm_profile():
    import yaml

    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert {"mem_mb", "runtime", "slurm_partition", "slurm_account"} <= set(profile["default-resources"])


def test_failed_start_raises_with_the_daemon_log_and_leaves_no_process():
    folder = _cluster_folder()
    # slurmd cannot load this plugin and exits; the other daemons come up first
    cluster = SlurmCluster(folder, node_conf_link=False, extra_slurm_conf="TaskPlugin=task/doesnotexist")
    try:
        with pytest.raises(ClusterStartError) as failure:
            cluster.start()
        message = str(failure.value)
        assert "slurmd exited" in message
        assert "cannot create task context for task/doesnotexist" in message  # slurmd's log
        assert set(cluster.launched_pids) == {
            "munged",
            "mariadbd",
            "slurmdbd",
            "slurmctld",
            "slurmd",
        }
        for name, pid in cluster.launched_pids.items():
            assert not _running(pid), f"{name} (pid {pid}) still running"
        assert not (folder / "cluster.json").exists()
        assert "SLURM_CONF" not in os.environ or os.environ["SLURM_CONF"] != str(cluster.slurm_conf)
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_link_left_by_a_killed_cluster_counts_as_stale(tmp_path):
    """A test run killed before stop() leaves /run/slurm/conf/slurm.conf behind;
    the next start removes it only if none of that cluster's daemons still runs."""
    import json

    import slurm_cluster

    workdir = tmp_path / "killed"
    (workdir / "etc").mkdir(parents=True)
    (workdir / "etc" / "slurm.conf").write_text("ClusterName=old\n")
    link = tmp_path / "slurm.conf"
    link.symlink_to(workdir / "etc" / "slurm.conf")
    dead = subprocess.Popen(["true"])
    dead.wait()

    def record(pids):
        daemons = {f"d{i}": {"pid": pid, "argv": [], "logs": []} for i, pid in enumerate(pids)}
        (workdir / "cluster.json").write_text(json.dumps({"daemons": daemons}))

    # a dead pid, and a live pid that is not this cluster's (pid reuse)
    record([dead.pid, os.getpid()])
    assert not slurm_cluster._linked_cluster_alive(link)
    # a live daemon started with the cluster's marker keeps the link
    env = dict(os.environ, **{slurm_cluster.MARKER_VAR: str(workdir)})
    daemon = subprocess.Popen(["sleep", "30"], env=env)
    # Popen returns once exec has begun; the kernel fills /proc/<pid>/environ a moment later.
    deadline = time.monotonic() + 10
    while slurm_cluster._pid_environ_marker(daemon.pid) != str(workdir) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        record([dead.pid, daemon.pid])
        assert slurm_cluster._linked_cluster_alive(link)
    finally:
        daemon.kill()
        daemon.wait()
    # no record at all: maybe starting, maybe not ours; left alone
    (workdir / "cluster.json").unlink()
    assert slurm_cluster._linked_cluster_alive(link)


def test_stop_cancels_jobs_and_ends_only_the_started_processes():
    folder = _cluster_folder()
    cluster = SlurmCluster(folder, node_conf_link=False)
    bystander = subprocess.Popen(["sleep", "300"])  # not the cluster's: must survive
    saved_conf = os.environ.get("SLURM_CONF")
    try:
        cluster.start()
        assert os.environ["SLURM_CONF"] == str(cluster.slurm_conf)
        pid_file = folder / "job.pid"
        cluster.run(
            [
                "sbatch",
                "--parsable",
                f"--chdir={folder}",
                "--output=/dev/null",
                "--wrap",
                f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file} && exec sleep 300",
            ]
        )
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        job_pid = int(pid_file.read_text())
        assert _running(job_pid)

        cluster.stop()

        for name, pid in cluster.launched_pids.items():
            assert not _running(pid), f"{name} (pid {pid}) still running"
        assert not _running(job_pid), "the running job was not cancelled"
        assert bystander.poll() is None, "stop() ended a process it did not start"
        assert os.environ.get("SLURM_CONF") == saved_conf
        assert not (folder / "cluster.json").exists()
    finally:
        bystander.kill()
        bystander.wait()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------
# The genorisk demo workflow itself on the cluster
# ---------------------------------------------------------------------------

from conftest import REPO as _REPO  # noqa: E402
from conftest import prepare_workdir as _prepare_workdir  # noqa: E402

# Outputs compared byte for byte between the SLURM run and the local run;
# metrics.json and model_card.json are compared without their run-dependent fields.
_COMPARED = [
    "results/qc/cohort.chr21.validation.json",
    *(
        f"results/{rel}/{trait}/{name}"
        for trait in ("demo_disease", "demo_interaction")
        for rel, name in (
            ("features", "features.schema.json"),
            ("model", "model.ubj"),
            ("model", "calibrator.json"),
            ("model", "cohort_variants.parquet"),
        )
    ),
    "results/patients/batches/b00000/results.json",
    "results/patients/batches/b00001/results.json",
    "results/patients/P1/result.json",
    "results/patients/P3/report.json",
]


def test_demo_workflow_runs_on_slurm_and_matches_a_local_run(slurm_cluster, local_demo, tmp_path):
    import json
    import time as _time

    workdir = _prepare_workdir(tmp_path / "slurm_demo")
    started = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.localtime(_time.time() - 2))
    proc = run_workflow_on_slurm(
        slurm_cluster,
        workdir,
        _REPO / "workflow" / "Snakefile",
        workdir / "config.yaml",
        extra_args=["--retries", "0", "--jobs", "4"],
        timeout=1800,
    )
    assert proc.returncode == 0, f"{proc.stdout[-6000:]}\n{slurm_cluster.logs_report()}"
    for rel in _COMPARED:
        assert (workdir / rel).read_bytes() == (local_demo / rel).read_bytes(), f"{rel} differs from the local run"
    from test_resume import without_run_dependent

    for rel in [
        f"results/model/{trait}/{name}"
        for trait in ("demo_disease", "demo_interaction")
        for name in ("metrics.json", "model_card.json", "bundle.json")
    ]:
        docs = [without_run_dependent(json.loads((d / rel).read_text())) for d in (workdir, local_demo)]
        assert docs[0] == docs[1], f"{rel} differs beyond its run-dependent fields"
    # Every job of the workflow ran as a SLURM job that completed.
    fields = ["JobIDRaw", "JobName", "State", "ExitCode", "Comment"]
    done = slurm_cluster.run(
        ["sacct", "--allocations", "--parsable2", "--noheader", "--starttime", started, f"--format={','.join(fields)}"]
    )
    rows = [dict(zip(fields, line.split("|"), strict=False)) for line in done.stdout.splitlines() if line]
    expected_rules = [
        "simulate_demo",
        "validate_cohort",
        "cohort_features",
        "train_model",
        "publish_model",
        "patient_features",
        "score_patients",
        "patient_reports",
    ]
    for rule in expected_rules:
        assert any(rule in r["Comment"] for r in rows), f"no SLURM job for rule {rule}: {rows}"
    import re as _re

    # The checkpoint adds the annotation chunk jobs after the start, so the job count is
    # the final "N of N steps (100%) done" (stderr is merged into stdout), less the jobs run on
    # the submit host: the target rule (no action) and check_patient_intake (a local rule).
    totals = _re.findall(r"^(\d+) of (\d+) steps \(100%\) done", proc.stdout, flags=_re.M)
    assert totals, proc.stdout[-3000:]
    local_jobs = _re.findall(r"^localrule (\w+):", proc.stdout, flags=_re.M)
    assert set(local_jobs) <= {"default", "all", "check_patient_intake"}, local_jobs
    assert len(rows) == int(totals[-1][1]) - len(local_jobs), (totals[-1], local_jobs, rows)
    assert all(r["State"] == "COMPLETED" and r["ExitCode"] == "0:0" for r in rows), rows
