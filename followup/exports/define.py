"""define.xml (CDISC Define-XML 2.1) of the XPT files of a submission package: one ItemGroupDef per dataset (its
label, class, structure, keys and file), one ItemDef per variable (label, data type, length, origin), one
CodeList per coded variable. Built from the files as written (`followup.exports.xpt.XptFile`: their variables'
actual lengths) and `followup.exports.sdtm_metadata`, the labels the XPT files carry: one source of truth.

Written with the standard library's ElementTree; the tests validate it against the CDISC schema.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from followup.exports import sdtm_metadata
from followup.exports.sources import STUDY_ID
from followup.exports.xpt import XptFile

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ODM_NS)
ET.register_namespace("def", DEF_NS)
ET.register_namespace("xlink", XLINK_NS)

STANDARD_OID = "STD.SDTMIG"
CT_STANDARD_OID = "STD.CT"
CT_VERSION = "2024-03-29"  # the CDISC SDTM controlled terminology the NCI codes are taken from


def _odm(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _def(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    """`<tag><TranslatedText xml:lang="en">text</TranslatedText></tag>` (Description, Decode)."""
    element = ET.SubElement(parent, _odm(tag))
    ET.SubElement(element, _odm("TranslatedText"), {XML_LANG: "en"}).text = text
    return element


def data_type(name: str, kind: str) -> str:
    if name.endswith("DTC"):
        return "date" if name in sdtm_metadata.DATE_ONLY else "datetime"
    return {"str": "text", "int": "integer", "float": "float"}[kind]


def item_oid(domain: str, name: str) -> str:
    return f"IT.{domain}.{name}"


def define_xml(files: list[XptFile], *, created: dt.datetime, source_version: str = "1") -> bytes:
    """The define.xml of `files` (every XPT of a package), as UTF-8 bytes."""
    root = ET.Element(_odm("ODM"), {
        "FileType": "Snapshot", "FileOID": f"DEFINE.{STUDY_ID}.SDTM", "ODMVersion": "1.3.2",
        "CreationDateTime": created.isoformat(timespec="seconds"), "Originator": "Meta10-19 EDC",
        "SourceSystem": "Meta10-19 EDC", "SourceSystemVersion": source_version, _def("Context"): "Submission",
    })  # fmt: skip
    study = ET.SubElement(root, _odm("Study"), {"OID": STUDY_ID})
    variables = ET.SubElement(study, _odm("GlobalVariables"))
    ET.SubElement(variables, _odm("StudyName")).text = STUDY_ID
    ET.SubElement(variables, _odm("StudyDescription")).text = "CD19 CAR-T (Meta10-19) in systemic lupus erythematosus"
    ET.SubElement(variables, _odm("ProtocolName")).text = STUDY_ID
    version = ET.SubElement(study, _odm("MetaDataVersion"), {
        "OID": f"MDV.{STUDY_ID}.SDTMIG.{sdtm_metadata.SDTMIG_VERSION}",
        "Name": f"{STUDY_ID} SDTM", _def("DefineVersion"): "2.1.0",
    })  # fmt: skip
    _standards(version)
    for xpt in files:
        _item_group(version, xpt)
    code_lists = sdtm_metadata.code_lists()
    coded = {}
    for xpt in files:
        for variable in xpt.variables:
            _item(version, xpt.domain, variable, code_lists.get(variable.name))
            if variable.name in code_lists:
                coded[variable.name] = code_lists[variable.name]
    for name, code_list in coded.items():
        _code_list(version, name, code_list)
    ET.indent(root)
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    return declaration + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"


def _standards(version: ET.Element) -> None:
    standards = ET.SubElement(version, _def("Standards"))
    ig = {"OID": STANDARD_OID, "Name": "SDTMIG", "Type": "IG", "Version": sdtm_metadata.SDTMIG_VERSION}
    ct = {"OID": CT_STANDARD_OID, "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": "SDTM", "Version": CT_VERSION}
    for standard in (ig, ct):
        ET.SubElement(standards, _def("Standard"), {**standard, "Status": "Final"})


def _item_group(version: ET.Element, xpt: XptFile) -> None:
    domain = xpt.domain
    leaf_id = f"LF.{domain}"
    attributes = {
        "OID": f"IG.{domain}", "Name": domain, "SASDatasetName": domain, "Repeating": "No" if domain == "DM" else "Yes",
        "IsReferenceData": "No", "Purpose": "Tabulation", _def("Structure"): sdtm_metadata.dataset_structure(domain),
        _def("StandardOID"): STANDARD_OID, _def("ArchiveLocationID"): leaf_id,
    }  # fmt: skip
    if (parent := sdtm_metadata.parent_of(domain)) is not None:
        attributes["Domain"] = parent
    group = ET.SubElement(version, _odm("ItemGroupDef"), attributes)
    _text(group, "Description", xpt.label)
    keys = sdtm_metadata.keys_of(domain, tuple(xpt.variables))
    for order, variable in enumerate(xpt.variables, 1):
        ref = {"ItemOID": item_oid(domain, variable.name), "OrderNumber": str(order),
               "Mandatory": "Yes" if variable.name in keys else "No"}  # fmt: skip
        if variable.name in keys:
            ref["KeySequence"] = str(keys.index(variable.name) + 1)
        ET.SubElement(group, _odm("ItemRef"), ref)
    ET.SubElement(group, _def("Class"), {"Name": sdtm_metadata.dataset_class(domain)})
    leaf = ET.SubElement(group, _def("leaf"), {"ID": leaf_id, f"{{{XLINK_NS}}}href": xpt.path.name})
    ET.SubElement(leaf, _def("title")).text = xpt.path.name


def _item(version: ET.Element, domain: str, variable, code_list) -> None:
    kind = data_type(variable.name, variable.kind)
    attributes = {"OID": item_oid(domain, variable.name), "Name": variable.name, "SASFieldName": variable.name,
                  "DataType": kind}  # fmt: skip
    if kind in ("text", "integer", "float"):  # Define-XML 2.1: a length for these types only
        attributes["Length"] = str(variable.length)
    item = ET.SubElement(version, _odm("ItemDef"), attributes)
    _text(item, "Description", variable.label)
    if code_list is not None:
        ET.SubElement(item, _odm("CodeListRef"), {"CodeListOID": f"CL.{variable.name}"})
    origin, source = sdtm_metadata.origin_of(domain, variable.name)
    ET.SubElement(item, _def("Origin"), {"Type": origin, "Source": source})


def _code_list(version: ET.Element, name: str, code_list: sdtm_metadata.CodeList) -> None:
    attributes = {"OID": f"CL.{name}", "Name": code_list.name, "DataType": "text"}
    if code_list.nci_code:
        attributes[_def("StandardOID")] = CT_STANDARD_OID
    element = ET.SubElement(version, _odm("CodeList"), attributes)
    decoded = any(decode for _, decode in code_list.terms)
    for order, (code, decode) in enumerate(code_list.terms, 1):
        tag = "CodeListItem" if decoded else "EnumeratedItem"
        item = ET.SubElement(element, _odm(tag), {"CodedValue": code, "OrderNumber": str(order)})
        if decoded:
            _text(item, "Decode", decode or code)
    if code_list.nci_code:
        ET.SubElement(element, _odm("Alias"), {"Context": "nci:ExtCodeID", "Name": code_list.nci_code})
