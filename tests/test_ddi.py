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
    citation = root.find("d:stdyDscr/d:citation", NS)
    assert citation.find("d:verStmt/d:version", NS).text == descriptor["version"]
    assert descriptor["dataHash"] in citation.find("d:verStmt/d:notes", NS).text
    assert "SYNTHETIC DATA" in root.find("d:stdyDscr/d:dataAccs/d:useStmt/d:disclaimer", NS).text
    assert "strata are ASSUMED" in root.find("d:stdyDscr/d:method/d:dataColl/d:sampProc", NS).text
    files = {f.get("ID"): f for f in root.findall("d:fileDscr", NS)}
    assert list(files) == [f"F_{r['name']}" for r in descriptor["resources"]]
    for resource in descriptor["resources"]:
        dims = files[f"F_{resource['name']}"].find("d:fileTxt/d:dimensns", NS)
        assert int(dims.find("d:caseQnty", NS).text) == resource["rows"]
        assert int(dims.find("d:varQnty", NS).text) == len(resource["schema"]["fields"])
    variables = {v.get("ID"): v for v in root.findall("d:dataDscr/d:var", NS)}
    assert variables["V_persons_weight"].get("wgt") == "wgt"
    assert variables["V_persons_age"].get("wgt-var") == "V_persons_weight"
    plans = variables["V_persons_plans_to_emigrate"]
    assert plans.find("d:universe", NS).text == "age >= 15"
    cats = {c.find("d:catValu", NS).text: c for c in plans.findall("d:catgry", NS)}
    assert cats["NIU"].get("missing") == "Y" and int(cats["NIU"].find("d:catStat", NS).text) > 0
    assert cats["1"].find("d:labl", NS).text == "Yes"
    remittances = variables["V_households_remittances_lcu"]
    unknown = [c for c in remittances.findall("d:catgry", NS) if c.get("missType") == "unknown"]
    assert int(unknown[0].find("d:catStat", NS).text) > 0  # planted item nonresponse


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
