"""What a run ran on (bench.execution.machine.instance_identity): DMI and NVMe model strings documented from real
cloud machines (tests/data/dmi/, each with its source) through a fake sysfs root, given labels and prices, and a
given value the machine contradicts refused by the real CLI before anything runs."""
import json
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.execution.machine import SYSFS_ROOT_ENV, instance_identity, parse_given
from tests.conftest import cli

DMI_DATA = Path(__file__).resolve().parents[1] / "data" / "dmi"
MACHINES = sorted(DMI_DATA.glob("*.json"))


def fake_sysfs(root: Path, machine: dict) -> Path:
    """A sysfs tree as the machine shows it: class/dmi/id/<field> and block/<ns>/device/model (with newline)."""
    dmi = root / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    for name, value in machine["dmi"].items():
        (dmi / name).write_text(value + "\n")
    for ns, model in machine["nvme"].items():
        dev = root / "block" / ns / "device"
        dev.mkdir(parents=True)
        (dev / "model").write_text(model + "\n")
    return root


def load(name: str) -> dict:
    return json.loads((DMI_DATA / f"{name}.json").read_text())


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.stem)
def test_documented_cloud_strings_are_recognised(path, tmp_path):
    machine = json.loads(path.read_text())
    assert machine["source"]
    got = instance_identity(root=fake_sysfs(tmp_path, machine))
    expect = machine["expect"]
    for name in ("provider", "instance_type", "instance_id"):
        value = got[name]["value"] if got[name] else None
        assert value == expect[name], name
        if got[name]:
            assert got[name]["source"] == "detected" and got[name]["evidence"].startswith("DMI")
    volumes = {v["device"]: [v.get("volume"), v.get("local")] for v in got["volumes"] if v.get("volume")}
    assert volumes == expect["volumes"]
    assert got["region"] is None and got["zone"] is None     # no cloud says where it is in DMI


def test_given_fields_say_given_and_detected_ones_detected(tmp_path):
    root = fake_sysfs(tmp_path, load("gcp"))
    given = parse_given(["instance=n2-standard-8", "zone=us-central1-a", "setup=raid0"], "us-central1", 0.39)
    got = instance_identity(given, root)
    assert got["provider"] == {"value": "gcp", "source": "detected", "evidence": got["provider"]["evidence"]}
    assert got["instance_type"]["value"] == "n2-standard-8" and got["instance_type"]["source"] == "given"
    assert got["region"]["value"] == "us-central1" and got["region"]["source"] == "given"
    assert got["zone"]["value"] == "us-central1-a"
    assert got["price_usd_per_hour"] == {"value": 0.39, "source": "given", "evidence": "run option"}
    assert got["labels"] == {"setup": "raid0"}


def test_a_given_value_the_machine_contradicts_is_refused(tmp_path):
    root = fake_sysfs(tmp_path, load("aws-nitro-m5d"))
    with pytest.raises(UserError, match="m5d.large"):
        instance_identity(parse_given(["instance=m5d.xlarge"]), root)
    # the same value as detected is fine, and stays `detected`
    assert instance_identity(parse_given(["instance=m5d.large"]), root)["instance_type"]["source"] == "detected"


@pytest.mark.parametrize("labels, region, price, message", [
    (["noequals"], None, None, "KEY=VALUE"),
    (["Bad Key=x"], None, None, "KEY=VALUE"),
    (["instance="], None, None, "KEY=VALUE"),
    (["instance=a", "instance=b"], None, None, "twice"),
    (["region=a"], "b", None, "region once"),
    ([], None, -1.0, "positive"),
    ([], None, float("nan"), "positive"),
    (["x=" + "v" * 200], None, None, "KEY=VALUE"),
])
def test_bad_labels_and_prices_are_refused(labels, region, price, message):
    with pytest.raises(UserError, match=message):
        parse_given(labels, region, price)


def test_run_refuses_a_contradicted_instance_before_running(tmp_path):
    root = fake_sysfs(tmp_path / "sys", load("aws-nitro-m5d"))
    tier, store = tmp_path / "tier", tmp_path / "store"
    tier.mkdir()
    proc = cli("run", "--tier", f"t={tier}", "--workload", "seq-read-1m", "--engine", "builtin",
               "--param", "size=1m", "--param", "runtime_s=0.2", "--label", "instance=i3.large", "--results", store,
               env={SYSFS_ROOT_ENV: str(root)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "m5d.large" in proc.stderr and "Traceback" not in proc.stderr
    assert not store.exists() or not any(store.iterdir())
