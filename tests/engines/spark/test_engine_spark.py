"""The Spark engine, for real: a 2-worker standalone cluster on 127.0.0.1 sorts a small gensort input through
`tierbench run --engine spark`, its output validated as the replay's; the temp data must appear under the workers'
local dirs on the temp tier and nowhere else; and no JVM may outlive the case. Spark's stage metrics are mapped to
phases from a captured REST answer (tests/data/spark). Skips, saying why, without pyspark, Java 17 or javac."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from bench.core.errors import CaseError, UserError
from bench.engines.spark.case import has_shuffle_files
from bench.execution.runner import CASE_TAG
from tests.conftest import cli, cli_json

DATA = Path(__file__).resolve().parents[2] / "data" / "spark"
RECORDS = 200_000
UNSAFE_ROW_BYTES = 124      # per 100-byte record in Spark's shuffle: an UnsafeRow of one binary(100) column
                            # (8 null bits + 8 offset/length + 104 padded value) and a 4-byte length prefix


def _missing() -> str:
    try:
        from bench.engines.spark.helper import helper_jar
        helper_jar()
    except UserError as e:
        return str(e)
    return ""


needs_spark = pytest.mark.skipif(bool(_missing()), reason=_missing() or "spark present")


def case_processes(run_id: str) -> list:
    """Live processes that worked for a case of this run: the runner tags each case's processes (the worker and
    everything it starts: the Spark daemons, their executors, the driver and its JVM) in their environment."""
    out = []
    for proc in psutil.process_iter(["pid", "name", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and \
                    (proc.environ().get(CASE_TAG) or "").startswith(f"{run_id}-c"):
                out.append(f"{proc.info['pid']} {proc.info['name']}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory):
    """One real run: 200k records, 2 workers, data and temp tiers in separate temp folders (the JVMs start once)."""
    base = tmp_path_factory.mktemp("spark")
    data, temp, store = base / "data", base / "temp", base / "results"
    data.mkdir()
    temp.mkdir()
    before_tmp = set(os.listdir(tempfile.gettempdir()))
    doc = cli_json("run", "--workload", "terasort", "--engine", "spark", "--tier", f"data={data}",
                   "--tier", f"temp={temp}", "--data", "data", "--temp", "temp", "--workers", "2",
                   "--param", f"records={RECORDS}", "--param", "partitions=4", "--param", "block_size=4m",
                   "--results", store, timeout=300)
    return {"doc": doc, "left": case_processes(doc["run_id"]), "data": data, "temp": temp,
            "store": store, "tmp_before": before_tmp}


@needs_spark
def test_the_sort_validates_with_spark_phases(spark_run):
    case = spark_run["doc"]["cases"][0]
    assert case["error"] is None, case["error"]
    assert case["engine"] == "spark"
    names = [p["name"] for p in case["phases"]]
    assert names[0] == "teragen" and names[-1] == "validate" and {"map", "reduce"} <= set(names)
    validate = next(p for p in case["phases"] if p["name"] == "validate")
    assert validate["valid"] is True and validate["records"] == RECORDS
    m = case["metrics"]
    assert m["records_count"] == RECORDS and m["output_bytes"] == RECORDS * 100
    for p in case["phases"]:
        if p["name"] in ("map", "reduce"):
            assert p["cpu_s"] > 0 and p["wall_s"] > 0 and p["bottleneck"] in ("cpu", "io", "mixed")
            assert p["tier"] == "temp"
    assert m["executor_cpu_s"] > 0 and m["cluster_cpu_s"] >= m["executor_cpu_s"]
    assert "ops_read" not in m and "iops" not in m      # Spark counts no operations: missing, never 0


@needs_spark
def test_shuffle_bytes_match_the_input_with_compression_off(spark_run):
    m = spark_run["doc"]["cases"][0]["metrics"]
    expected = RECORDS * UNSAFE_ROW_BYTES
    assert abs(m["shuffle_write_bytes"] / expected - 1) < 0.03, (m["shuffle_write_bytes"], expected)
    assert m["shuffle_read_bytes"] == m["shuffle_write_bytes"]


@needs_spark
def test_shuffle_files_appeared_under_each_workers_local_dir_and_nowhere_else(spark_run):
    case = spark_run["doc"]["cases"][0]
    placement = case["spark"]["placement"]
    assert placement["verified"] is True
    workers = placement["workers"]
    assert [w["local_dir"] for w in workers] == ["spark-worker-1", "spark-worker-2"]
    assert all(w["shuffle_data"] > 0 and w["shuffle_index"] > 0 for w in workers), workers
    assert sum(w["shuffle_data"] for w in workers) == case["metrics"]["shuffle_write_bytes"]
    assert case["metrics"]["temp_bytes"] == case["metrics"]["shuffle_write_bytes"]
    # nothing of Spark's in the system temp folder, and the case directories are gone from both tiers
    new = set(os.listdir(tempfile.gettempdir())) - spark_run["tmp_before"]
    assert not [n for n in new if n.startswith(("blockmgr-", "spark-"))
                and has_shuffle_files(os.path.join(tempfile.gettempdir(), n))], new
    assert os.listdir(spark_run["data"]) == [] and os.listdir(spark_run["temp"]) == []


@needs_spark
def test_no_jvm_outlives_the_case(spark_run):
    assert spark_run["left"] == []


@needs_spark
def test_logs_land_in_the_raw_folder(spark_run):
    doc = spark_run["doc"]
    raw = Path(spark_run["store"]) / doc["run_id"] / "raw" / "case000-spark"
    names = set(os.listdir(raw))
    assert {"master.log", "worker-1.log", "worker-2.log", "driver.log", "stages.json"} <= names
    assert "ALIVE" in (raw / "master.log").read_text() or "Registering worker" in (raw / "master.log").read_text()


def tagged_processes(tag: str) -> list:
    out = []
    for proc in psutil.process_iter(["pid", "name", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and proc.environ().get("TIERBENCH_TEST_TAG") == tag:
                out.append(f"{proc.info['pid']} {proc.info['name']}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


@needs_spark
def test_aggregate_spills_to_the_workers_local_dirs_and_validates(tmp_path, monkeypatch):
    """The group-by on one worker with a 4 MB budget, run by the engine itself (no runner to clean up after it):
    Spark spills, on the temp tier, the output is exact, and no process it started is left."""
    import workloads
    from bench.engines.spark import aggregate

    tag = f"spark-test-{os.getpid()}-{id(tmp_path)}"
    monkeypatch.setenv("TIERBENCH_TEST_TAG", tag)        # inherited by every process the engine starts
    dirs = {"data": tmp_path / "data", "temp": tmp_path / "temp"}
    for d in dirs.values():
        d.mkdir()
    (tmp_path / "raw").mkdir()
    w = workloads.get("aggregate")
    params = workloads.coerce_params(w, {**w.quick, "memory_budget_mb": 4})
    out = aggregate.run(params, {"dirs": {k: str(v) for k, v in dirs.items()}, "tiers": {"data": "d", "temp": "t"},
                                 "workers": 1, "cache": False, "raw_dir": tmp_path / "raw", "stem": "case000",
                                 "devices": {}, "spark_master": None})
    assert tagged_processes(tag) == []
    m = out["metrics"]
    assert m["groups_count"] > 0 and m["spill_disk_bytes"] > 0 and m["shuffle_write_bytes"] > 0
    phases = {p["name"]: p for p in out["phases"]}
    assert phases["validate"]["valid"] is True
    assert phases["map"]["io"]["data"]["bytes_read"] == m["input_bytes"]       # the whole input was read
    assert phases["map"]["io"]["temp"]["tier"] == "t"
    worker = out["spark"]["placement"]["workers"][0]
    assert worker["local_dir"] == "spark-worker-1" and worker["peak"] > worker["shuffle_data"] > 0


@needs_spark
def test_an_existing_cluster_is_used_and_left_running(tmp_path):
    """--spark-master: the case starts no cluster of its own, sorts on the given one, records its temp data's place
    as not verified (the cluster's local dirs are its own), and leaves that cluster running; that cluster, left by
    an exception (here Ctrl-C inside its with block), is then stopped with every process group gone."""
    from bench.engines.spark.cluster import StandaloneCluster, check_master, group_processes
    from bench.engines.spark.helper import spark_home

    (tmp_path / "local").mkdir()
    (tmp_path / "d").mkdir()
    cluster = StandaloneCluster(spark_home(), 1, str(tmp_path / "local"), tmp_path / "logs")
    with pytest.raises(KeyboardInterrupt), cluster:
        assert cluster.state()["aliveworkers"] == 1
        check_master(cluster.url)          # a real master passes --spark-master's check (it closes on a bad frame)
        doc = cli_json("run", "--workload", "terasort", "--engine", "spark", "--spark-master", cluster.url,
                       "--tier", f"d={tmp_path / 'd'}", "--param", "records=20000", "--param", "partitions=2",
                       "--param", "block_size=1m", "--results", tmp_path / "results", timeout=300)
        assert len(group_processes(cluster.pgids)) >= 2, cluster.pgids     # master and worker still there
        case = doc["cases"][0]
        assert case["error"] is None, case["error"]
        assert case["spark"]["master"] == f"external {cluster.url}"
        assert case["spark"]["placement"]["verified"] is False
        assert "temp_bytes" not in case["metrics"] and case["metrics"]["shuffle_write_bytes"] > 0
        assert not (Path(tmp_path / "results") / doc["run_id"] / "raw" / "case000-spark" / "master.log").exists()
        pgids = cluster.pgids
        raise KeyboardInterrupt
    assert group_processes(pgids) == []


# ---- without a cluster: the stage mapping and the command line ------------------------------------------------
def test_spark_master_that_is_not_spark_is_refused_in_seconds(tmp_path):
    """--spark-master's check (bench.engines.spark.cluster.check_master) on real sockets: a port nobody listens
    on, a silent listener, and one that answers in another protocol are refused before any case (one line, exit
    2); Spark's own retries would spend ~60 s each. (A real master passes: the existing-cluster test.)"""
    import socket
    import threading

    from bench.engines.spark.cluster import check_master

    def listener(talk: bool):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()

        def serve():
            conn, _ = server.accept()
            if talk:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            threading.Event().wait(3)
            conn.close()
        threading.Thread(target=serve, daemon=True).start()
        return server

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(UserError, match="connection refused"):
        check_master(f"spark://127.0.0.1:{port}")
    silent, talker = listener(False), listener(True)
    with pytest.raises(UserError, match="stays silent for 1 s"):
        check_master(f"spark://127.0.0.1:{silent.getsockname()[1]}", timeout_s=1.0)
    with pytest.raises(UserError, match="another protocol"):
        check_master(f"spark://127.0.0.1:{talker.getsockname()[1]}")
    silent.close()
    talker.close()
    proc = cli("run", "--workload", "terasort", "--engine", "spark", "--spark-master", "spark://127.0.0.1:0",
               "--tier", f"d={tmp_path}", "--param", "records=1000", "--results", tmp_path / "results")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "port 0 is not from 1 to 65535" in proc.stderr


def test_stages_map_to_sample_map_and_reduce_phases():
    from bench.engines.spark.stages import phases
    stages = json.loads((DATA / "stages-terasort-200k-2workers.json").read_text())
    out = {p["name"]: p for p in phases(stages, {"data": "hdd", "temp": "optane"}, 20_000_000)}
    assert list(out) == ["sample", "map", "reduce"]
    assert out["map"]["io"]["temp"]["bytes_written"] == out["map"]["shuffle_write_bytes"] == 24_800_000
    assert out["map"]["io"]["data"]["bytes_read"] == 20_000_000 and out["map"]["tier"] == "optane"
    assert out["reduce"]["io"]["temp"]["bytes_read"] == 24_800_000
    assert out["reduce"]["io"]["data"] == {"tier": "hdd", "bytes_read": 0, "bytes_written": 20_000_000}
    assert out["sample"]["tier"] == "hdd" and "temp" not in out["sample"]["io"]
    assert all(p["cpu_s"] > 0 and "ops_read" not in p for p in out.values())


def test_a_failed_or_missing_stage_fails_the_case():
    from bench.engines.spark.stages import phases
    stages = json.loads((DATA / "stages-terasort-200k-2workers.json").read_text())
    failed = [dict(s, status="FAILED", failureReason="ExecutorLostFailure") if s["shuffleReadBytes"] else s
              for s in stages]
    with pytest.raises(CaseError, match="failed"):
        phases(failed, {"data": "d", "temp": "t"}, 1)
    with pytest.raises(CaseError, match="no completed reduce stage"):
        phases([s for s in stages if not s["shuffleReadBytes"]], {"data": "d", "temp": "t"}, 1)


@pytest.mark.parametrize("args, message", [
    (["--workload", "rand-read-4k", "--engine", "spark"], "runs jobs"),
    (["--workload", "terasort", "--engine", "spark", "--spark-master", "localhost:7077"], "spark://HOST:PORT"),
    (["--workload", "terasort", "--spark-master", "spark://h:7077"], "is for --engine spark"),
])
def test_bad_spark_arguments_are_one_line_and_exit_2(tmp_path, args, message):
    proc = cli("run", *args, "--tier", f"d={tmp_path}", "--results", tmp_path / "r")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_without_java_the_message_says_how_to_install(monkeypatch):
    from bench.engines.spark import helper
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UserError, match="make java"):
        helper.require()


# ---- a disturbed job, and REST reads on a busy machine (issue 21 point 3, issue 23 point 7) ---------------------
def test_failed_tasks_retried_stages_and_lost_executors_are_a_disturbed_job():
    from bench.engines.spark.stages import disturbed
    stages = json.loads((DATA / "stages-terasort-200k-2workers.json").read_text())
    executors = [{"id": "driver", "isActive": True}, {"id": "0", "isActive": True}, {"id": "1", "isActive": True}]
    assert disturbed(stages, executors) == ""
    failed = [dict(s, numFailedTasks=2) if s["shuffleWriteBytes"] else s for s in stages]
    assert "2 failed and 0 killed task(s) were retried" in disturbed(failed, executors)
    again = stages + [dict(stages[-1], attemptId=1)]
    assert f"stage(s) {stages[-1]['stageId']} ran again" in disturbed(again, executors)
    lost = executors + [{"id": "2", "isActive": False, "removeReason": "Command exited with code 137"}]
    assert disturbed(stages, lost) == "executor 2 was lost (Command exited with code 137)"


def _http_server(answers: list):
    """A real HTTP server on 127.0.0.1 answering each GET with the next (status, body) of `answers` (the last one
    repeated); returns (url, server). Its thread stops with server.shutdown()."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/api", server


def test_rest_reads_retry_until_their_deadline():
    from bench.engines.spark.stages import read_json, rest_deadline_s
    assert rest_deadline_s(5) == 60.0 and rest_deadline_s(100) == 200.0
    url, server = _http_server([(503, b"busy"), (200, b'[{"stageId": 1'), (200, b'[{"stageId": 1}]')])
    try:
        assert read_json(url, deadline_s=20) == [{"stageId": 1}]      # a 5xx and a torn answer, then the JSON
    finally:
        server.shutdown()
    url, server = _http_server([(503, b"busy")])
    try:
        with pytest.raises(TimeoutError, match="no answer after .* tries"):
            read_json(url, deadline_s=2)
    finally:
        server.shutdown()
    url, server = _http_server([(404, b"no such app")])
    try:
        with pytest.raises(Exception, match="404"):       # a client error is not retried
            read_json(url, deadline_s=30)
    finally:
        server.shutdown()
