"""Two "instances" compared end to end through the real CLI (docs/machines.md): two real runs in two stores, each
with a fake DMI root (an AWS m5d.large and a GCP machine, tests/data/dmi/) and its price; one run bundled, imported
into the other store, and `compare --machines` reading both; a published spec the measurement misses flagged.

The instances differ for real: A's tier is a tmpfs folder declared nvme, B's a folder on this machine's disk,
so A's 4 KiB random reads are many times B's and the winner is significant with 4 repeats a side."""
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from bench.analysis.compare import compare_metric
from bench.core.metric_registry import default_threshold
from bench.execution.machine import SYSFS_ROOT_ENV
from tests.conftest import cli, cli_json
from tests.execution.test_machine_identity import fake_sysfs, load

SHM = Path("/dev/shm")
CASE = ("--workload", "rand-read-4k", "--engine", "builtin", "--param", "iodepth=1", "--param", "size=4m",
        "--param", "runtime_s=0.4", "--repeat", "4")


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory):
    if not SHM.is_dir():
        pytest.skip("needs /dev/shm (a tmpfs) for the faster of the two instances")
    tmp = tmp_path_factory.mktemp("machines")
    shm = Path(tempfile.mkdtemp(prefix="tierbench-machines-", dir=SHM))
    disk = tmp / "disk"
    disk.mkdir()
    try:
        aws, gcp = fake_sysfs(tmp / "sys-aws", load("aws-nitro-m5d")), fake_sysfs(tmp / "sys-gcp", load("gcp"))
        a = cli_json("run", "--tier", f"fast={shm}:nvme", *CASE, "--region", "us-east-1", "--price-per-hour",
                     "0.113", "--results", tmp / "store-a", env={SYSFS_ROOT_ENV: str(aws)})
        b = cli_json("run", "--tier", f"local={disk}:nvme", *CASE, "--label", "instance=n2-standard-2",
                     "--label", "zone=us-central1-a", "--price-per-hour", "0.097", "--results", tmp / "store-b",
                     env={SYSFS_ROOT_ENV: str(gcp)})
    finally:
        shutil.rmtree(shm, ignore_errors=True)
    bundle = tmp / "b.tierbench.tgz"
    cli("export", b["run_id"], "--bundle", bundle, "--results", tmp / "store-b", check=0)
    imported = cli_json("import", "--bundle", bundle, "--results", tmp / "store-a")
    return {"tmp": tmp, "a": a, "b": b, "imported": imported, "store": tmp / "store-a", "bundle": bundle}


def test_each_run_records_what_it_ran_on(two_instances):
    ia = two_instances["a"]["machine"]["instance"]
    ib = two_instances["b"]["machine"]["instance"]
    assert (ia["provider"]["value"], ia["provider"]["source"]) == ("aws", "detected")
    assert (ia["instance_type"]["value"], ia["instance_type"]["source"]) == ("m5d.large", "detected")
    assert (ia["region"]["value"], ia["region"]["source"]) == ("us-east-1", "given")
    assert ia["price_usd_per_hour"]["value"] == 0.113
    assert (ib["provider"]["value"], ib["provider"]["source"]) == ("gcp", "detected")
    assert (ib["instance_type"]["value"], ib["instance_type"]["source"]) == ("n2-standard-2", "given")
    assert ib["zone"]["value"] == "us-central1-a"


def test_the_imported_run_is_the_run_that_was_bundled(two_instances):
    b, imported = two_instances["b"], two_instances["imported"]
    assert imported["run_id"] == b["run_id"]
    assert imported["cases"] == b["cases"] and imported["machine"] == b["machine"]
    stored = two_instances["store"] / b["run_id"]
    assert (stored / "samples.parquet").is_file() and (stored / "raw").is_dir()


def test_compare_machines_side_by_side(two_instances, tmp_path):
    a, b, store = two_instances["a"], two_instances["b"], two_instances["store"]
    catalog = tmp_path / "mine.toml"
    # A spec no 4 KiB random read of this VM reaches: the measurement must be flagged below it.
    catalog.write_text('[[instance]]\nprovider = "aws"\ninstance_type = "m5d.large"\ntier_class = "nvme"\n'
                       'read_iops_4k = 50_000_000\nsource = "a test catalog"\nsource_date = "2026-12-06"\n')
    result = cli_json("compare", a["run_id"], b["run_id"], "--machines", "--catalog", catalog, "--results", store)
    names = [m["column"] for m in result["machines"]]
    assert names == ["m5d.large", "n2-standard-2"]
    assert [m["price_source"] for m in result["machines"]] == ["run --price-per-hour"] * 2
    assert result["same_host"] == []      # different instance ids / hosts: two machines
    (group,) = result["groups"]
    # matched by tier class, not name (fast vs local)
    assert [t["tier"]["name"] for t in group["tiers"]] == ["fast", "local"]
    rows = {r["metric"]: r for r in group["metrics"]}
    iops = rows["iops"]
    for cell, doc in zip(iops["cells"], (a, b)):
        values = sorted(c["metrics"]["iops"] for c in doc["cases"])
        assert cell["n"] == 4 and cell["ci_low"] <= cell["median"] <= cell["ci_high"]
        assert cell["median"] == pytest.approx((values[1] + values[2]) / 2)
    # the winner is named only where the gate's statistics say the difference is significant
    for r in group["metrics"]:
        if r["winner"] is None:
            continue
        other = 1 - r["winner"]
        va = [c["metrics"][r["metric"]] for c in (a, b)[other]["cases"]]
        vw = [c["metrics"][r["metric"]] for c in (a, b)[r["winner"]]["cases"]]
        assert compare_metric(r["metric"], va, vw, default_threshold(r["metric"]))["verdict"] == "improved"
    assert iops["winner"] == 0, iops      # tmpfs against a disk: many times the IOPS
    assert iops["cells"][1]["verdict"] == "regressed" and iops["cells"][1]["p_value"] < 0.05
    costs = {c["metric"]: c for c in group["costs"]}
    for cell, price, med in zip(costs["usd_per_million_ios"]["cells"], (0.113, 0.097),
                                (c["median"] for c in iops["cells"])):
        assert cell["value"] == pytest.approx(price / 3600 / med * 1e6)
        assert cell["low"] <= cell["value"] <= cell["high"]
    assert costs["iops_per_usd_hour"]["cells"][0]["value"] == pytest.approx(iops["cells"][0]["median"] / 0.113)
    # the user's spec replaced nothing built in and matched A (aws m5d.large, nvme): flagged
    spec = iops["cells"][0]["spec"]
    assert spec["spec"] == 50_000_000 and spec["verdict"] == "below-spec" and spec["ratio"] < 0.9
    # B is a GCP machine, but its tier is a folder on this VM's disk, not a local SSD: the built-in local SSD
    # figure (any machine type, volume local-ssd) does not apply to it
    assert "spec" not in iops["cells"][1]
    assert [(f["machine"], f["metric"]) for f in result["below_spec"]] == [("m5d.large", "iops")]
    # the human table says the same on stderr
    proc = cli("compare", a["run_id"], b["run_id"], "--machines", "--catalog", catalog, "--results", store,
               check=0, env={"COLUMNS": "200"})
    assert "USD per million IOs" in proc.stderr and "BELOW SPEC" in proc.stderr and proc.stdout == ""


def test_runs_from_one_host_are_not_two_machines(two_instances):
    a, store = two_instances["a"], two_instances["store"]
    proc = cli("compare", a["run_id"], a["run_id"], "--machines", "--results", store)
    assert proc.returncode == 2 and "same host" in proc.stderr and "--force" in proc.stderr
    forced = cli_json("compare", a["run_id"], a["run_id"], "--machines", "--force", "--results", store)
    assert forced["same_host"][0]["runs"] == [a["run_id"], a["run_id"]]
    assert all(r["winner"] is None for g in forced["groups"] for r in g["metrics"])


def test_report_shows_the_machines_section(two_instances, tmp_path):
    a, b, store = two_instances["a"], two_instances["b"], two_instances["store"]
    out = tmp_path / "r.html"
    cli("report", a["run_id"], b["run_id"], "-o", out, "--results", store, check=0)
    html = out.read_text()
    section = html.split('<section id="machines">', 1)[1].split("</section>", 1)[0]
    assert "m5d.large" in section and "n2-standard-2" in section and "USD per million IOs" in section
    assert section.count("<img") >= 3 and "data:image/png;base64," in section


def test_bundle_json_and_refusals(two_instances, tmp_path):
    bundle, b = two_instances["bundle"], two_instances["b"]
    # a second import into the same store is refused; into a new one it works
    again = cli("import", "--bundle", bundle, "--results", two_instances["store"])
    assert again.returncode == 2 and "already" in again.stderr
    fresh = cli_json("import", "--bundle", bundle, "--results", tmp_path / "fresh")
    assert fresh["run_id"] == b["run_id"]
    summary = json.loads(cli("export", b["run_id"], "--bundle", tmp_path / "again.tgz", "--json",
                             "--results", tmp_path / "fresh", check=0).stdout)
    assert summary["run_id"] == b["run_id"] and summary["files"] >= 3


def test_jobs_match_by_data_and_temp_role_and_cost_per_tb_sorted(tmp_path):
    """Two real terasort runs whose tiers have other names but the same roles and classes (data on nvme, temp on
    hdd) compare as one case; --price gives USD per TB sorted from the median wall time and the bytes sorted."""
    store = tmp_path / "store"
    runs = []
    for data, temp in (("d", "t"), ("fast", "scratch")):
        for name in (data, temp):
            (tmp_path / name).mkdir()
        runs.append(cli_json("run", "--tier", f"{data}={tmp_path / data}:nvme", "--tier", f"{temp}={tmp_path / temp}:hdd",
                             "--workload", "terasort", "--data", data, "--temp", temp, "--quick",
                             "--param", "records=20000", "--repeat", "2", "--results", store))
    a, b = runs
    result = cli_json("compare", a["run_id"], b["run_id"], "--machines", "--force", "--price", f"{a['run_id']}=2",
                      "--price", f"{b['run_id']}=3", "--results", store)
    (group,) = result["groups"]
    assert "data=nvme" in group["case"] and "temp=hdd" in group["case"]
    assert [(t["tier"]["name"], t["temp_tier"]["name"]) for t in group["tiers"]] == [("d", "t"), ("fast", "scratch")]
    assert [m["price_source"] for m in result["machines"]] == ["compare --price"] * 2
    wall = {r["metric"]: r for r in group["metrics"]}["wall_s"]["cells"]
    (sorted_cost,) = [c for c in group["costs"] if c["metric"] == "usd_per_tb_sorted"]
    for cell, price, w in zip(sorted_cost["cells"], (2, 3), wall):
        assert cell["value"] == pytest.approx(price * w["median"] / 3600 / (20000 * 100 / 1e12))


def test_a_catalogued_price_is_used_where_none_was_given(two_instances, tmp_path):
    from bench.analysis.machine_compare import describe_machine
    from bench.analysis.spec_catalog import load_catalog

    doc = json.loads(json.dumps(two_instances["a"]))
    doc["machine"]["instance"]["price_usd_per_hour"] = None          # as if run without --price-per-hour
    mine = tmp_path / "prices.toml"
    mine.write_text('[[instance]]\nprovider = "aws"\ninstance_type = "m5d.large"\ntier_class = "nvme"\n'
                    'read_iops_4k = 30_000\nprice_usd_per_hour = 0.113\nprice_source = "on-demand, us-east-1"\n'
                    'source = "a test catalog"\nsource_date = "2026-12-06"\n')
    got = describe_machine(doc, None, load_catalog([mine]))
    assert got["price_usd_per_hour"] == 0.113 and "on-demand, us-east-1" in got["price_source"]
    assert describe_machine(doc, None, load_catalog())["price_usd_per_hour"] is None     # no price: none, not 0
    assert describe_machine(doc, 0.2, load_catalog([mine]))["price_source"] == "compare --price"


def test_a_volume_label_brings_in_the_volume_type_spec(two_instances):
    """No NVMe model says which EBS type a volume is: `run --label volume.<tier>=ebs-gp3` does, and the built-in
    gp3 baseline then applies to that tier (here met: the tier is tmpfs)."""
    from bench.analysis.machine_compare import compare_machines
    from bench.analysis.spec_catalog import load_catalog

    a = json.loads(json.dumps(two_instances["a"]))
    b = two_instances["b"]
    result = compare_machines([a, b], catalog=load_catalog())
    assert "spec" not in result["groups"][0]["metrics"][0]["cells"][0]     # m5d.large has no built-in entry
    a["machine"]["instance"]["labels"]["volume.fast"] = "ebs-gp3"
    result = compare_machines([a, b], catalog=load_catalog())
    (group,) = result["groups"]
    assert group["tiers"][0]["tier"]["volume"] == "ebs-gp3"
    cell = {r["metric"]: r for r in group["metrics"]}["iops"]["cells"][0]
    assert cell["spec"]["spec"] == 3_000 and cell["spec"]["field"] == "read_iops_4k"
    assert cell["spec"]["verdict"] == ("meets-spec" if cell["median"] >= 2_700 else "below-spec")
