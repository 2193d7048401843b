"""What cloud machine a run ran on, from strings the machine itself carries (no network): its DMI (SMBIOS)
fields and its NVMe model strings. Pure rules; bench.execution.machine reads the files.

Where each rule comes from (the strings as the providers and their guest tools document them):
- AWS Nitro instances: DMI sys_vendor "Amazon EC2", product_name the instance type ("m5d.large"; ".metal" on
  bare metal), board_asset_tag the instance id ("i-0..."): systemd's virt detection reads product_name for
  ".metal" (systemd commit f90eea7d, "virt: Improve detection of EC2 metal instances"); a gist probing EC2 without
  instance metadata shows product_name "trn1.32xlarge" and board_asset_tag "i-..."
  (https://gist.github.com/verdimrc/1ba1387ebe5702dadd027f144e128dff). Older Xen instances say sys_vendor "Xen",
  bios_version "4.2.amazon" (provider only: their product_name is "HVM domU").
- GCP: sys_vendor "Google", product_name "Google Compute Engine" (cloud-init's GCE datasource, and guest tools
  that read /sys/class/dmi/id/product_name). No machine type in DMI.
- Azure: chassis_asset_tag "7783-7084-3265-9085-8269-3286-77" (cloud-init's Azure datasource and ds-identify;
  Azure's own "is this VM on Azure" check), sys_vendor "Microsoft Corporation", product_name "Virtual Machine".
  No VM size in DMI.
- NVMe models: AWS "Amazon EC2 NVMe Instance Storage" (instance store) and "Amazon Elastic Block Store" (EBS),
  from the EC2 user guide's NVMe pages and amazon-ec2-utils' udev rules; Azure "Microsoft NVMe Direct Disk" /
  "... v2" (local) and "MSFT NVMe Accelerator v1.0" (remote disks), from Azure/azure-vm-utils' udev rules; GCP
  "nvme_card" / "nvme_cardN" (local SSD) and "nvme_card-pd" (persistent disk, Hyperdisk), from
  GoogleCloudPlatform/guest-configs' google_nvme_id and its users.

Region and zone are not in DMI on any of them: they are given (`run --region`, `--label zone=...`).
"""
from __future__ import annotations

import re
from typing import Optional

__all__ = ["DMI_FIELDS", "AZURE_CHASSIS_ASSET_TAG", "identify", "volume_of", "field"]

# The DMI files read (all world-readable; product_serial and product_uuid are root-only and not needed).
DMI_FIELDS = ("sys_vendor", "product_name", "product_version", "board_vendor", "board_asset_tag",
              "chassis_vendor", "chassis_asset_tag", "bios_vendor", "bios_version")
AZURE_CHASSIS_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
_AWS_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_AWS_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")

# (model pattern, provider, volume kind, local to the machine?)
_VOLUMES = (
    (re.compile(r"^Amazon EC2 NVMe Instance Storage"), "aws", "instance-store", True),
    (re.compile(r"^Amazon Elastic Block Store"), "aws", "ebs", False),
    (re.compile(r"^Microsoft NVMe Direct Disk"), "azure", "local-nvme", True),
    (re.compile(r"^MSFT NVMe Accelerator"), "azure", "remote-disk", False),
    (re.compile(r"^nvme_card-pd$"), "gcp", "persistent-disk", False),
    (re.compile(r"^nvme_card\d*$"), "gcp", "local-ssd", True),
    (re.compile(r"^Google EphemeralDisk"), "gcp", "local-ssd", True),
    (re.compile(r"^Google PersistentDisk"), "gcp", "persistent-disk", False),
)


def field(value, source: str, evidence: Optional[str] = None) -> Optional[dict]:
    """One identity field as stored: {"value", "source": "detected" | "given", "evidence"}; None without a value."""
    if value is None:
        return None
    return {"value": value, "source": source, "evidence": evidence}


def identify(dmi: dict) -> dict:
    """{provider, instance_type, instance_id}: each a `field(...)` (detected, with the DMI evidence) or None."""
    vendor = (dmi.get("sys_vendor") or "").strip()
    product = (dmi.get("product_name") or "").strip()
    out = {"provider": None, "instance_type": None, "instance_id": None}
    if vendor == "Amazon EC2":
        out["provider"] = field("aws", "detected", "DMI sys_vendor 'Amazon EC2'")
        if _AWS_INSTANCE_TYPE.match(product):
            out["instance_type"] = field(product, "detected", "DMI product_name")
        tag = (dmi.get("board_asset_tag") or "").strip()
        if _AWS_INSTANCE_ID.match(tag):
            out["instance_id"] = field(tag, "detected", "DMI board_asset_tag")
    elif "amazon" in (dmi.get("bios_version") or "").lower():
        out["provider"] = field("aws", "detected", f"DMI bios_version {dmi.get('bios_version')!r} (Xen instance)")
    elif product == "Google Compute Engine" or vendor == "Google":
        out["provider"] = field("gcp", "detected", f"DMI product_name {product!r}, sys_vendor {vendor!r}")
    elif (dmi.get("chassis_asset_tag") or "").strip() == AZURE_CHASSIS_ASSET_TAG:
        out["provider"] = field("azure", "detected", f"DMI chassis_asset_tag {AZURE_CHASSIS_ASSET_TAG}")
    return out


def volume_of(model: Optional[str]) -> Optional[dict]:
    """What cloud volume an NVMe model string names: {"provider", "volume", "local"}; None for any other disk."""
    text = (model or "").strip()
    for pattern, provider, volume, local in _VOLUMES:
        if pattern.match(text):
            return {"provider": provider, "volume": volume, "local": local}
    return None
