"""DDI Codebook 2.5: the package's codebook validates against the official XSD (read offline)."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ippmd.core.home import shared_dir
from ippmd.package.ddi import NAMESPACE, render_ddi

XSD = shared_dir() / "data" / "spec" / "ddi-codebook-2.5" / "codebook.xsd"
NS = {"d": NAMESPACE}


@cache
def ddi_schema() -> Any:
    """The official DDI Codebook 2.5 XML Schema from ../shared (skip when absent)."""
    xmlschema = pytest.importorskip("xmlschema")
    if not XSD.is_file():
        pytest.skip(f"the DDI 2.5 XSD is not at {XSD}")
    return xmlschema.XMLSchema(str(XSD))


def _find(node: ET.Element, path: str) -> ET.Element:
    found = node.find(path, NS)
    assert found is not None, f"no {path}"
    return found


def _text(node: ET.Element, path: str) -> str:
    return _find(node, path).text or ""


@pytest.fixture(scope="module")
def ddi(package_dir: Path, descriptor: dict) -> bytes:
    return render_ddi(descriptor, package_dir)


def test_package_ddi_is_valid_ddi_codebook_2_5(ddi: bytes, tmp_path: Path) -> None:
    path = tmp_path / "codebook.xml"
    path.write_bytes(ddi)
    ddi_schema().validate(str(path))


def test_ddi_documents_study_files_variables_weights_and_missing(ddi: bytes, descriptor: dict) -> None:
    root = ET.fromstring(ddi)
    assert root.get("version") == "2.5"
    citation = _find(root, "d:stdyDscr/d:citation")
    assert _text(citation, "d:verStmt/d:version") == descriptor["version"]
    assert descriptor["dataHash"] in _text(citation, "d:verStmt/d:notes")
    assert "SYNTHETIC DATA" in _text(root, "d:stdyDscr/d:dataAccs/d:useStmt/d:disclaimer")
    assert "strata are ASSUMED" in _text(root, "d:stdyDscr/d:method/d:dataColl/d:sampProc")
    files = {f.get("ID"): f for f in root.findall("d:fileDscr", NS)}
    assert list(files) == [f"F_{r['name']}" for r in descriptor["resources"]]
    for resource in descriptor["resources"]:
        dims = _find(files[f"F_{resource['name']}"], "d:fileTxt/d:dimensns")
        assert int(_text(dims, "d:caseQnty")) == resource["rows"]
        assert int(_text(dims, "d:varQnty")) == len(resource["schema"]["fields"])
    variables = {v.get("ID"): v for v in root.findall("d:dataDscr/d:var", NS)}
    assert variables["V_persons_weight"].get("wgt") == "wgt"
    assert variables["V_persons_age"].get("wgt-var") == "V_persons_weight"
    plans = variables["V_persons_plans_to_emigrate"]
    assert _text(plans, "d:universe") == "age >= 15"
    cats = {_text(c, "d:catValu"): c for c in plans.findall("d:catgry", NS)}
    assert cats["NIU"].get("missing") == "Y" and int(_text(cats["NIU"], "d:catStat")) > 0
    assert _text(cats["1"], "d:labl") == "Yes"
    remittances = variables["V_households_remittances_lcu"]
    unknown = [c for c in remittances.findall("d:catgry", NS) if c.get("missType") == "unknown"]
    assert int(_text(unknown[0], "d:catStat")) > 0  # planted item nonresponse


def test_cli_writes_ddi_and_markdown_stays_the_default(package_dir: Path, tmp_path: Path) -> None:
    ippmd = str(Path(sys.executable).with_name("ippmd"))
    package = str(package_dir / "datapackage.json")
    out = tmp_path / "c.xml"
    ok = subprocess.run(
        [ippmd, "codebook", "--package", package, "--format", "ddi", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes() == render_ddi(__import__("json").loads(Path(package).read_text()), package_dir)
    md = tmp_path / "c.md"
    subprocess.run([ippmd, "codebook", "--package", package, "--out", str(md)], check=True, timeout=120)
    assert md.read_text(encoding="utf-8").startswith("# Codebook")
