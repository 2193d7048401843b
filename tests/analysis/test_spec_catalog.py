"""The spec catalog (bench/analysis/catalog/*.toml, bench.analysis.spec_catalog): every built-in entry cites its
source, user catalogs merge over it, entries match by provider, instance type, tier class and volume, and a
measurement more than 10% below a spec is flagged. Also: tiers are matched across machines by role and class."""
import pytest

from bench.analysis import spec_catalog
from bench.analysis.machine_compare import _roles
from bench.core.errors import UserError


def test_every_built_in_entry_has_a_source_and_a_figure():
    entries = spec_catalog.load_catalog()
    assert {(e["provider"], e["instance_type"]) for e in entries} >= {
        ("aws", "i3.large"), ("aws", "i4i.large"), ("aws", "i3en.large"), ("gcp", "*"), ("azure", "Standard_L8s_v3")}
    for e in entries:
        assert e["source"].startswith("https://") and e["source_date"]
        assert any(e.get(f) for f in spec_catalog.SPEC_METRICS)
    i3 = spec_catalog.find_spec(entries, "aws", "i3.large", "nvme", "instance-store")
    assert (i3["read_iops_4k"], i3["write_iops_4k"], i3["capacity_bytes"]) == (100_125, 35_000, 475_000_000_000)


def test_a_user_entry_replaces_the_built_in_one(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[[instance]]\nprovider = "aws"\ninstance_type = "i3.large"\ntier_class = "nvme"\n'
                    'volume = "instance-store"\nread_iops_4k = 90_000\nsource = "our own fio run at QD 64"\n'
                    'source_date = "2026-12-06"\n')
    entries = spec_catalog.load_catalog([mine])
    got = spec_catalog.find_spec(entries, "aws", "i3.large", "nvme", "instance-store")
    assert got["read_iops_4k"] == 90_000 and got["catalog"] == str(mine)
    assert sum(1 for e in entries if e["instance_type"] == "i3.large") == 1


def test_matching_by_instance_class_and_volume():
    entries = spec_catalog.load_catalog()
    assert spec_catalog.find_spec(entries, "aws", "i3.large", "hdd") is None           # another tier class
    assert spec_catalog.find_spec(entries, "aws", "i3.large", "nvme", "ebs") is None   # an EBS volume, not the store
    assert spec_catalog.find_spec(entries, "aws", "m5.large", "nvme") is None          # no entry
    assert spec_catalog.find_spec(entries, None, "i3.large", "nvme") is None           # provider unknown
    gcp = spec_catalog.find_spec(entries, "gcp", "n2-standard-8", "nvme", "local-ssd")  # "*" matches any type
    assert gcp["instance_type"] == "*" and gcp["read_iops_4k"] == 170_000
    # ... but only a tier known to be that volume: a disk of unknown kind is not a local SSD
    assert spec_catalog.find_spec(entries, "gcp", "n2-standard-8", "nvme", None) is None
    gp3 = spec_catalog.find_spec(entries, "aws", "m5.large", "nvme", "ebs-gp3")        # `--label volume.T=ebs-gp3`
    assert (gp3["read_iops_4k"], gp3["read_bytes_per_s"]) == (3_000, 125 * 2**20)
    assert spec_catalog.find_spec(entries, "aws", "m5.large", "nvme", "ebs") is None     # EBS of unknown type


@pytest.mark.parametrize("measured, verdict", [(100_125, "meets-spec"), (90_200, "meets-spec"),
                                               (90_000, "below-spec"), (5_000, "below-spec"),
                                               (None, "not-measured")])
def test_below_spec_is_more_than_ten_percent_below(measured, verdict):
    entry = spec_catalog.find_spec(spec_catalog.load_catalog(), "aws", "i3.large", "nvme")
    got = spec_catalog.spec_check(entry, "rand-read-4k", "iops", measured)
    assert got["verdict"] == verdict and got["spec"] == 100_125
    assert spec_catalog.spec_check(entry, "rand-read-4k", "lat_p99_us", 50.0) is None   # no such figure
    assert spec_catalog.spec_check(entry, "seq-read-1m", "read_bytes_per_s", 1e9) is None


def test_tiers_are_matched_by_class_and_keep_their_name_only_when_a_class_repeats():
    doc = {"tiers": [{"name": "fast", "class": "nvme"}, {"name": "slow", "class": "hdd"},
                     {"name": "a", "class": "optane"}, {"name": "b", "class": "optane"}]}
    assert _roles(doc) == {"fast": "nvme", "slow": "hdd", "a": "optane:a", "b": "optane:b"}


@pytest.mark.parametrize("text, words", [
    ("instance = 3\n", "array of tables"),
    ('[[instance]]\nprovider = "aws"\n', "required"),
    ('[[instance]]\nprovider = "aws"\ninstance_type = "x"\ntier_class = "nvme"\nsource = "s"\nsource_date = "d"\n'
     'read_iops_4k = true\n', "positive number"),
])
def test_malformed_catalogs_are_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=words) as e:
        spec_catalog.load_catalog([path])
    assert "\n" not in str(e.value)
