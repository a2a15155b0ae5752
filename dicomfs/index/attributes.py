"""Which attributes belong to which query level, and what each level must return.

One source for the scanner (which splits an instance's attributes into patient/study, series and
instance JSON) and for QIDO (required return keys, CONFORMANCE C-02, C-07, C-08, C-09).
Levels follow PS3.4 C.6.1.1 (Patient Root and Study Root Q/R information models); patient-level
attributes are stored with the study (Study Root).
"""

from __future__ import annotations

from typing import Literal

from pydicom.datadict import dictionary_VR, tag_for_keyword

__all__ = [
    "ALL_LEVELS",
    "COMPUTED",
    "COMPUTED_VR",
    "DEFAULT_RETURN",
    "GENERATED",
    "LEVELS",
    "Level",
    "PATIENT_KEYWORDS",
    "REQUIRED",
    "SERIES_KEYWORDS",
    "STUDY_KEYWORDS",
    "level_of",
    "level_of_tag",
    "tag_of",
    "vr_of",
]

Level = Literal["study", "series", "instance"]
LEVELS: tuple[Level, ...] = ("study", "series", "instance")

#: PS3.4 Table C.6-1 (Patient level), stored at study level.
PATIENT_KEYWORDS: frozenset[str] = frozenset(
    """PatientName PatientID IssuerOfPatientID IssuerOfPatientIDQualifiersSequence TypeOfPatientID
    OtherPatientIDsSequence OtherPatientNames PatientBirthDate PatientBirthTime PatientSex
    PatientBirthName PatientMotherBirthName EthnicGroup PatientComments PatientSpeciesDescription
    PatientSpeciesCodeSequence PatientBreedDescription PatientBreedCodeSequence
    BreedRegistrationSequence StrainDescription ResponsiblePerson ResponsiblePersonRole
    ResponsibleOrganization PatientIdentityRemoved DeidentificationMethod
    DeidentificationMethodCodeSequence PatientSexNeutered QualityControlSubject
    PatientBirthDateInAlternativeCalendar PatientDeathDateInAlternativeCalendar
    PatientAlternativeCalendar""".split()
)

#: PS3.4 Table C.6-2 (Study level).
STUDY_KEYWORDS: frozenset[str] = frozenset(
    """StudyDate StudyTime AccessionNumber IssuerOfAccessionNumberSequence StudyID
    StudyInstanceUID ReferringPhysicianName ReferringPhysicianIdentificationSequence
    StudyDescription ProcedureCodeSequence NameOfPhysiciansReadingStudy
    PhysiciansOfRecord PhysiciansOfRecordIdentificationSequence AdmittingDiagnosesDescription
    AdmittingDiagnosesCodeSequence ReferencedStudySequence PatientAge PatientSize PatientWeight
    PatientSizeCodeSequence Occupation AdditionalPatientHistory OtherStudyNumbers
    AdmissionID IssuerOfAdmissionIDSequence ReasonForPerformedProcedureCodeSequence
    StudyStatusID StudyPriorityID MedicalAlerts Allergies SmokingStatus PregnancyStatus
    LastMenstrualDate PatientState ServiceEpisodeID ServiceEpisodeDescription
    IssuerOfServiceEpisodeIDSequence""".split()
)

#: PS3.4 Table C.6-3 (Series level), with the Equipment and Frame of Reference attributes.
SERIES_KEYWORDS: frozenset[str] = frozenset(
    """Modality SeriesNumber SeriesInstanceUID SeriesDescription SeriesDescriptionCodeSequence
    SeriesDate SeriesTime PerformingPhysicianName PerformingPhysicianIdentificationSequence
    ProtocolName OperatorsName OperatorIdentificationSequence BodyPartExamined Laterality
    PatientPosition PerformedProcedureStepStartDate PerformedProcedureStepStartTime
    PerformedProcedureStepEndDate PerformedProcedureStepEndTime PerformedProcedureStepID
    PerformedProcedureStepDescription PerformedProtocolCodeSequence RequestAttributesSequence
    ReferencedPerformedProcedureStepSequence Manufacturer ManufacturerModelName StationName
    InstitutionName InstitutionAddress InstitutionalDepartmentName DeviceSerialNumber
    SoftwareVersions FrameOfReferenceUID PositionReferenceIndicator
    SmallestPixelValueInSeries LargestPixelValueInSeries""".split()
)

#: Attributes computed by the index at query time, never read from files (C-05, C-06).
COMPUTED: dict[str, Level] = {
    "NumberOfStudyRelatedSeries": "study",
    "NumberOfStudyRelatedInstances": "study",
    "ModalitiesInStudy": "study",
    "SOPClassesInStudy": "study",
    "NumberOfSeriesRelatedInstances": "series",
    "NumberOfPatientRelatedStudies": "study",
}

#: VR of each computed attribute (counts are IS, encoded as JSON numbers: C-05).
COMPUTED_VR: dict[str, str] = {
    "NumberOfStudyRelatedSeries": "IS",
    "NumberOfStudyRelatedInstances": "IS",
    "ModalitiesInStudy": "CS",
    "SOPClassesInStudy": "UI",
    "NumberOfSeriesRelatedInstances": "IS",
    "NumberOfPatientRelatedStudies": "IS",
}

#: Attributes that describe every level's entity (the scanner copies them into the study and
#: series JSON too; QIDO returns them at every level when known, C-02/C-07/C-08).
ALL_LEVELS: frozenset[str] = frozenset({"SpecificCharacterSet", "TimezoneOffsetFromUTC"})

#: Attributes QIDO generates for every result (never stored): RetrieveURL (C-13),
#: InstanceAvailability (always ONLINE), AvailableTransferSyntaxUID (instances, C-08).
GENERATED: dict[str, str] = {
    "RetrieveURL": "UR",
    "InstanceAvailability": "CS",
    "AvailableTransferSyntaxUID": "UI",
}

#: Attributes every result of a level contains, present and empty when unknown (C-02, C-07, C-08).
REQUIRED: dict[Level, tuple[str, ...]] = {
    "study": (
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
        "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
        "StudyInstanceUID", "StudyID", "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    ),
    "series": (
        "Modality", "SeriesInstanceUID", "SeriesNumber", "NumberOfSeriesRelatedInstances",
    ),
    "instance": ("SOPClassUID", "SOPInstanceUID", "InstanceNumber"),
}

#: Type C return keys of each level, returned by default when known (PS3.18 Tables 10.6.3-3..5).
DEFAULT_RETURN: dict[Level, tuple[str, ...]] = {
    "study": ("SpecificCharacterSet", "TimezoneOffsetFromUTC"),
    "series": (
        "SeriesDescription", "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
        "RequestAttributesSequence",
    ),
    "instance": ("Rows", "Columns", "BitsAllocated", "NumberOfFrames"),
}

_PATIENT_STUDY = PATIENT_KEYWORDS | STUDY_KEYWORDS


def level_of(keyword: str) -> Level:
    """The query level an attribute belongs to (unknown and private attributes: instance)."""
    if keyword in _PATIENT_STUDY or COMPUTED.get(keyword) == "study":
        return "study"
    if keyword in SERIES_KEYWORDS or COMPUTED.get(keyword) == "series":
        return "series"
    return "instance"


def tag_of(keyword: str) -> str:
    """8-digit upper-case hex tag of a keyword."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return f"{int(tag):08X}"


def vr_of(tag: str) -> str:
    """The dictionary VR of an 8-hex-digit tag (``UN`` when unknown; first of ambiguous VRs)."""
    try:
        vr = str(dictionary_VR(int(tag, 16)))
    except KeyError:
        return "UN"
    return vr.split(" or ")[0]


def level_of_tag(tag: str) -> Level:
    """The query level of an 8-hex-digit tag (private and unknown tags: instance)."""
    from pydicom.datadict import keyword_for_tag

    keyword = keyword_for_tag(int(tag, 16))
    return level_of(keyword) if keyword else "instance"
