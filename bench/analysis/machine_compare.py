"""Comparing machines side by side (`tierbench compare A B [C ...] --machines`, and the report's machines section).

Matching: cases are matched across runs by the one case identity (bench.core.case.case_key) with each tier
replaced by its role and class: a pattern's tier, a job's data tier and temp tier are matched by their class
(nvme, hdd, ...), not their name, since two machines name their disks differently. Where one run holds two tiers
of the same class, those tiers keep their name as well (`nvme:fast`), so nothing is matched by guess.

Per matched case and metric (MACHINE_METRICS), a column per machine: the median over repeats with its 95%
percentile-bootstrap interval (bench.analysis.stats.bootstrap_median_ci), and for every machine after the first
the ratio to the first with the gate's statistics (bench.analysis.compare.compare_metric: bootstrap CI of the
ratio of medians, Mann-Whitney p, default thresholds of bench.core.metric_registry). The winner is marked only
where it is significant: the best median whose comparison against every other machine says `improved` (its CI
clears the threshold and p < 0.05); otherwise no winner, with the reason.

Cost rows, where a machine's price is known (`--price RUN=USD`, else the run's `--price-per-hour`, else the
catalog's price for its instance type): USD per million IOs = price / 3600 / IOPS * 10^6; IOPS per USD-hour =
IOPS / price; USD per TB sorted (terasort) = price * wall_s / 3600 / (bytes sorted / 10^12). Their intervals are
the median's interval carried through the same formula; the cheapest is marked only where its interval does not
overlap any other's.

Specs: where a run's provider and instance type and a tier match a catalog entry (bench.analysis.spec_catalog),
the cell carries the spec and is flagged `below-spec` when the median is more than 10% below it.

Two runs from the same host (the same detected instance id, else the same hostname) are not two machines: refused
unless forced (then the result names them in `same_host`).
"""
from __future__ import annotations

from typing import Optional

from bench.analysis import spec_catalog, stats
from bench.analysis.compare import CONFIDENCE, RESAMPLES, case_key, case_label, compare_metric, metric_values
from bench.analysis.machines import data_bytes, parse_price
from bench.core.case import CASE_KEY_FIELDS
from bench.core.cloud_identity import volume_of
from bench.core.errors import UserError
from bench.core.metric_registry import default_threshold, direction

__all__ = ["MACHINE_METRICS", "describe_machine", "compare_machines"]

MACHINE_METRICS = ("iops", "read_bytes_per_s", "write_bytes_per_s", "lat_p50_us", "lat_p99_us", "iops_per_gb",
                   "wall_s")
_TIER, _TEMP = CASE_KEY_FIELDS.index("tier"), CASE_KEY_FIELDS.index("temp_tier")


def _value(instance: dict, name: str):
    f = instance.get(name)
    return f.get("value") if isinstance(f, dict) else None


def describe_machine(doc: dict, price: Optional[float] = None, catalog: Optional[list] = None) -> dict:
    """Who a run's machine is: name (instance type, else `instance` label, else hostname), host key, identity
    fields with their source, and its price with where the price came from (None when nowhere)."""
    m = doc.get("machine") or {}
    inst = m.get("instance") or {}
    provider, itype = _value(inst, "provider"), _value(inst, "instance_type")
    sources = {k: inst[k]["source"] for k in ("provider", "instance_type", "instance_id", "region", "zone",
                                             "price_usd_per_hour") if isinstance(inst.get(k), dict)}
    price_source = None
    if price is not None:
        price_source = "compare --price"
    elif _value(inst, "price_usd_per_hour") is not None:
        price, price_source = float(_value(inst, "price_usd_per_hour")), "run --price-per-hour"
    else:
        for e in catalog or ():
            if e["provider"] == provider and e["instance_type"] == itype and e.get("price_usd_per_hour"):
                price = float(e["price_usd_per_hour"])
                price_source = f"catalog {e['catalog']}: {e.get('price_source') or e['source']}"
                break
    return {"run_id": doc.get("run_id"), "hostname": m.get("hostname"), "cpu_model": m.get("cpu_model"),
            "host_key": _value(inst, "instance_id") or m.get("hostname"),
            "name": itype or m.get("hostname") or doc.get("run_id"),
            "provider": provider, "instance_type": itype, "region": _value(inst, "region"),
            "zone": _value(inst, "zone"), "labels": dict(inst.get("labels") or {}), "sources": sources,
            "price_usd_per_hour": price, "price_source": price_source}


def _roles(doc: dict) -> dict:
    """tier name -> what it is matched by: its class, or class:name where the run has two tiers of that class."""
    classes = {t.get("name"): t.get("class") or "unknown" for t in doc.get("tiers") or []}
    counts: dict = {}
    for cls in classes.values():
        counts[cls] = counts.get(cls, 0) + 1
    return {name: cls if counts[cls] == 1 else f"{cls}:{name}" for name, cls in classes.items()}


def _groups(doc: dict) -> dict:
    """{role key: (cases, {role: tier name})}: the case key with tier and temp tier replaced by their role."""
    roles = _roles(doc)
    out: dict = {}
    for case in doc.get("cases") or []:
        key = list(case_key(case))
        names = {}
        for idx, role in ((_TIER, "tier"), (_TEMP, "temp_tier")):
            if key[idx] is not None:
                names[role] = key[idx]
                key[idx] = roles.get(key[idx], f"unknown:{key[idx]}")
        entry = out.setdefault(tuple(key), ([], names))
        entry[0].append(case)
    return out


def _tier_info(doc: dict, name: Optional[str]) -> Optional[dict]:
    """A tier as the comparison shows it; its cloud volume from its NVMe model, or from the run's label
    `volume.<tier>=...` (what no model string tells, e.g. `ebs-gp3`)."""
    labels = ((doc.get("machine") or {}).get("instance") or {}).get("labels") or {}
    for t in doc.get("tiers") or []:
        if t.get("name") == name:
            vol = volume_of(t.get("model"))
            return {"name": name, "class": t.get("class"), "emulated": bool(t.get("emulated")),
                    "model": t.get("model"), "volume": labels.get(f"volume.{name}") or (vol["volume"] if vol else None)}
    return None


def _winner(metric: str, values: list, medians: list, columns: list, seed: int) -> tuple:
    """(index, reason): the best median if it is significantly better than every other machine, else None."""
    d = direction(metric)
    present = [i for i, m in enumerate(medians) if m is not None]
    if d not in (1, -1) or len(present) < 2:
        return None, "no direction" if d not in (1, -1) else "measured on one machine"
    best = max(present, key=lambda i: medians[i] * d)
    for i in present:
        if i == best:
            continue
        r = compare_metric(metric, values[i], values[best], default_threshold(metric), seed=seed + i)
        if r["verdict"] != "improved":
            why = r["reason"] or r["verdict"]
            return None, f"not significant against {columns[i]} ({why})"
    return best, "significant against every other machine"


def _cost_cells(kind: str, cells: list, machines: list, sorted_bytes: Optional[float]) -> Optional[dict]:
    """One cost row from the medians (and their intervals) of iops or wall_s; None where no price is known."""
    out, any_price = [], False
    for cell, mach in zip(cells, machines):
        price = mach["price_usd_per_hour"]
        med, lo, hi = cell["median"], cell["ci_low"], cell["ci_high"]
        if price is None or med is None or med <= 0:
            out.append({"value": None, "low": None, "high": None})
            continue
        any_price = True
        if kind == "usd_per_million_ios":
            f = lambda x: price / 3600.0 / x * 1e6  # noqa: E731
            low, high = (f(hi), f(lo)) if lo and hi else (None, None)
        elif kind == "iops_per_usd_hour":
            f = lambda x: x / price  # noqa: E731
            low, high = (f(lo), f(hi)) if lo and hi else (None, None)
        else:  # usd_per_tb_sorted from wall_s
            if not sorted_bytes:
                out.append({"value": None, "low": None, "high": None})
                continue
            f = lambda x: price * x / 3600.0 / (sorted_bytes / 1e12)  # noqa: E731
            low, high = (f(lo), f(hi)) if lo and hi else (None, None)
        out.append({"value": f(med), "low": low, "high": high})
    if not any_price:
        return None
    lower_is_better = kind != "iops_per_usd_hour"
    known = [i for i, c in enumerate(out) if c["value"] is not None]
    winner = None
    if len(known) >= 2 and all(out[i]["low"] is not None for i in known):
        best = min(known, key=lambda i: out[i]["value"] * (1 if lower_is_better else -1))
        if lower_is_better:
            clear = all(out[best]["high"] < out[i]["low"] for i in known if i != best)
        else:
            clear = all(out[best]["low"] > out[i]["high"] for i in known if i != best)
        winner = best if clear else None
    return {"metric": kind, "direction": "lower" if lower_is_better else "higher", "cells": out, "winner": winner}


def compare_machines(docs: list, prices: Optional[dict] = None, catalog: Optional[list] = None,
                     force: bool = False) -> dict:
    """The side-by-side comparison of runs from several machines (the first is the reference) as one JSON-ready
    dict. prices: {run_id: USD per hour}; catalog: bench.analysis.spec_catalog.load_catalog(). UserError for
    fewer than two runs, runs from the same host (unless force), or no case in common."""
    if len(docs) < 2:
        raise UserError("--machines needs two or more runs (one per machine)")
    catalog = list(catalog or [])
    machines = [describe_machine(d, (prices or {}).get(d.get("run_id")), catalog) for d in docs]
    same = []
    for i, a in enumerate(machines):
        for b in machines[i + 1:]:
            if a["host_key"] is not None and a["host_key"] == b["host_key"]:
                same.append({"runs": [a["run_id"], b["run_id"]], "host": a["host_key"]})
    if same and not force:
        s = same[0]
        raise UserError(f"runs {s['runs'][0]} and {s['runs'][1]} come from the same host {s['host']!r}: they are "
                        "not two machines (--force compares them anyway, e.g. two tier setups of one host)")
    names = [m["name"] for m in machines]
    for i, m in enumerate(machines):
        m["column"] = m["name"] if names.count(m["name"]) == 1 else f"{m['name']} ({m['run_id']})"
    per_doc = [_groups(d) for d in docs]
    keys = list(dict.fromkeys(k for g in per_doc for k in g))
    groups, only = [], []
    for gi, key in enumerate(keys):
        present = [i for i, g in enumerate(per_doc) if key in g]
        label = case_label(key)
        if len(present) < 2:
            only.append({"case": label, "run_id": machines[present[0]]["run_id"]})
            continue
        groups.append(_group(gi, key, label, docs, per_doc, machines, catalog))
    if not groups:
        raise UserError("these runs have no case in common (matched by workload, tier class and role, engine, "
                        "parameters, workers, cache, step label and container memory)")
    below = [{"case": g["case"], "machine": machines[i]["column"], "metric": r["metric"], **c["spec"]}
             for g in groups for r in g["metrics"] for i, c in enumerate(r["cells"])
             if c.get("spec") and c["spec"]["verdict"] == "below-spec"]
    return {"mode": "machines", "machines": machines, "confidence": CONFIDENCE, "resamples": RESAMPLES,
            "matched_by": "workload, tier class and role (tier, data, temp), engine, parameters, workers, cache, "
                          "step label, container memory",
            "groups": groups, "only_on_one": only, "same_host": same, "below_spec": below,
            "below_spec_fraction": spec_catalog.BELOW_SPEC_FRACTION, "exit_code": 0}


def _group(gi: int, key: tuple, label: str, docs: list, per_doc: list, machines: list, catalog: list) -> dict:
    workload = key[CASE_KEY_FIELDS.index("workload")]
    tiers, case_lists = [], []
    for d, g in zip(docs, per_doc):
        cases, names = g.get(key, ([], {}))
        case_lists.append(cases)
        tiers.append({role: _tier_info(d, name) for role, name in names.items()} if cases else None)
    names = sorted({m for cases in case_lists for c in cases for m, v in (c.get("metrics") or {}).items()
                    if v is not None and m in MACHINE_METRICS}, key=MACHINE_METRICS.index)
    rows, by_metric = [], {}
    for mi, metric in enumerate(names):
        seed = gi * 7919 + mi * 104729
        values = [metric_values(cases, metric) for cases in case_lists]
        cells = []
        for i, vals in enumerate(values):
            med = stats.median(vals)
            lo, hi = stats.bootstrap_median_ci(vals, RESAMPLES, CONFIDENCE, seed + i)
            cell = {"n": len(vals), "median": med, "ci_low": lo, "ci_high": hi}
            if i and values[0] and vals:
                r = compare_metric(metric, values[0], vals, default_threshold(metric), seed=seed + 31 * i)
                cell.update(ratio=r["ratio"], ratio_ci_low=r["ci_low"], ratio_ci_high=r["ci_high"],
                            p_value=r["p_value"], verdict=r["verdict"], reason=r["reason"])
            tier = (tiers[i] or {}).get("tier") if tiers[i] else None
            mach = machines[i]
            if tier and mach["provider"]:
                entry = spec_catalog.find_spec(catalog, mach["provider"], mach["instance_type"], tier["class"],
                                               tier["volume"])
                spec = spec_catalog.spec_check(entry, workload, metric, med)
                if spec:
                    cell["spec"] = spec
            cells.append(cell)
        winner, why = _winner(metric, values, [c["median"] for c in cells], [m["column"] for m in machines], seed)
        row = {"metric": metric, "direction": {1: "higher", -1: "lower"}.get(direction(metric), "info"),
               "threshold_percent": default_threshold(metric) * 100, "cells": cells, "winner": winner,
               "winner_reason": why}
        rows.append(row)
        by_metric[metric] = cells
    costs = []
    if "iops" in by_metric:
        costs += [_cost_cells(k, by_metric["iops"], machines, None)
                  for k in ("usd_per_million_ios", "iops_per_usd_hour")]
    if workload == "terasort" and "wall_s" in by_metric:
        params = next((c.get("params") or {} for cases in case_lists for c in cases), {})
        costs.append(_cost_cells("usd_per_tb_sorted", by_metric["wall_s"], machines, data_bytes(params)))
    return {"case": label, "workload": workload, "tiers": tiers, "metrics": rows,
            "costs": [c for c in costs if c is not None]}


def compare_refs(refs: list, store, price_exprs=(), catalog_files=(), force: bool = False) -> dict:
    """`compare RUN... --machines [--price RUN=USD]... [--catalog FILE]... [--force]`: loads the runs and the
    catalog, checks the prices name runs compared, and compares (compare_machines)."""
    from bench.analysis.compare import load_any

    docs, ids = [], {}
    for ref in refs:
        doc = load_any(ref, store)
        docs.append(doc)
        ids[ref] = ids[doc["run_id"]] = doc["run_id"]
    prices = {}
    for expr in price_exprs or ():
        ref, price = parse_price(expr)
        if ref not in ids:
            raise UserError(f"--price {expr}: {ref!r} is not one of the runs compared ({', '.join(refs)})")
        prices[ids[ref]] = price
    catalog = spec_catalog.load_catalog(catalog_files)
    return compare_machines(docs, prices, catalog, force=force)
