"""Reference tables the generator draws from: regions, ICD-10 diagnoses and the item catalogue.

Region codes are real GB/T 2260 district codes; wage indices follow DOMAIN.md section 4 (a
regional multiplier of about 0.7-1.8 on a national average). Diagnoses are real ICD-10 codes
with a care profile (where they are treated, length of stay, cost) and the items that treat
them, so that an upcoded claim's items give it away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    wage_index: float
    weight: float
    lat: float
    lon: float


REGIONS: tuple[Region, ...] = (
    Region("110105", "Beijing Chaoyang", 1.80, 1.2, 39.92, 116.44),
    Region("310115", "Shanghai Pudong", 1.75, 1.4, 31.22, 121.54),
    Region("440305", "Shenzhen Nanshan", 1.65, 0.8, 22.53, 113.93),
    Region("440106", "Guangzhou Tianhe", 1.45, 0.9, 23.12, 113.36),
    Region("330106", "Hangzhou Xihu", 1.40, 0.6, 30.26, 120.13),
    Region("320505", "Suzhou Huqiu", 1.30, 0.6, 31.30, 120.57),
    Region("420106", "Wuhan Wuchang", 1.10, 0.9, 30.55, 114.32),
    Region("510107", "Chengdu Wuhou", 1.05, 1.0, 30.64, 104.04),
    Region("500103", "Chongqing Yuzhong", 0.95, 0.7, 29.55, 106.57),
    Region("610113", "Xi'an Yanta", 0.95, 0.8, 34.22, 108.95),
    Region("410105", "Zhengzhou Jinshui", 0.85, 1.0, 34.77, 113.66),
    Region("520102", "Guiyang Nanming", 0.80, 0.6, 26.57, 106.71),
    Region("620102", "Lanzhou Chengguan", 0.75, 0.5, 36.06, 103.83),
    Region("230103", "Harbin Nangang", 0.72, 0.7, 45.76, 126.65),
)
REGION_CODES = np.array([r.code for r in REGIONS])
WAGE_INDEX = np.array([r.wage_index for r in REGIONS])
REGION_WEIGHTS = np.array([r.weight for r in REGIONS]) / sum(r.weight for r in REGIONS)
# Average monthly wage of the scheme at wage index 1.0 (DOMAIN.md: about 120,698 a year in the
# non-private sector and 68,340 in the private one; the mix is about 7,500 a month).
BASE_MONTHLY_WAGE = 7_500.0


def region_distance_km() -> np.ndarray:
    """Great-circle distance between every pair of regions, in km."""
    lat = np.radians([r.lat for r in REGIONS])
    lon = np.radians([r.lon for r in REGIONS])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * 6371.0 * np.arcsin(np.sqrt(a)))


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    category: str  # drug, exam, procedure, bed, material, service
    price: float  # CNY per unit at wage index 1.0, tier 2
    days_per_unit: float = 0.0  # drugs: days of supply in one unit (box)


# Items that treat a specific diagnosis (codes follow the NHSA drug code and the national
# medical service price item layouts; names in English).
ITEMS: tuple[Item, ...] = (
    # generic drugs
    Item("XJ01DDC001", "ceftriaxone inj 1g", "drug", 18.5, 1),
    Item("XJ01CAA001", "amoxicillin caps 0.25g x24", "drug", 9.8, 4),
    Item("XN02BEA001", "paracetamol tab 0.5g x20", "drug", 6.2, 5),
    Item("XA02BCO001", "omeprazole caps 20mg x14", "drug", 15.6, 14),
    Item("XB05BBS001", "sodium chloride inj 0.9% 250ml", "drug", 4.5, 1),
    Item("XB05BAG001", "glucose inj 5% 250ml", "drug", 4.8, 1),
    Item("XR05CBA001", "ambroxol tab 30mg x20", "drug", 12.4, 7),
    Item("XM01AEI001", "ibuprofen sr caps 0.3g x20", "drug", 11.2, 10),
    # chronic / specific drugs
    Item("XA10BAM001", "metformin tab 0.5g x60", "drug", 21.0, 30),
    Item("XA10AEG001", "insulin glargine 300U pen", "drug", 176.0, 30),
    Item("XC08CAA001", "amlodipine tab 5mg x28", "drug", 28.0, 28),
    Item("XC09CAV001", "valsartan caps 80mg x28", "drug", 34.0, 28),
    Item("XR03AKS001", "salmeterol/fluticasone inh 60d", "drug", 158.0, 30),
    Item("XB01ACC001", "clopidogrel tab 75mg x28", "drug", 42.0, 28),
    Item("XC10AAA001", "atorvastatin tab 20mg x28", "drug", 36.0, 28),
    Item("XL04ADT001", "tacrolimus caps 1mg x50", "drug", 480.0, 25),
    Item("XL01XCT001", "trastuzumab inj 440mg", "drug", 5_200.0, 21),
    Item("XL01BCG001", "gemcitabine inj 1g", "drug", 690.0, 21),
    Item("XL01XAP001", "cisplatin inj 20mg", "drug", 120.0, 21),
    Item("XN06ABS001", "sertraline tab 50mg x14", "drug", 38.0, 14),
    Item("XC03CAF001", "furosemide inj 20mg", "drug", 1.6, 1),
    Item("XB01ABE001", "enoxaparin inj 4000IU", "drug", 36.0, 1),
    Item("XA10BJS001", "semaglutide inj 1.34mg/ml pen", "drug", 398.0, 28),
    Item("XB01ADA001", "alteplase inj 50mg", "drug", 4_800.0, 1),
    Item("XB01ACT001", "tirofiban inj 12.5mg", "drug", 220.0, 1),
    Item("XG04CAT001", "tamsulosin caps 0.2mg x10", "drug", 26.0, 10),
    Item("XJ01MAL001", "levofloxacin inj 0.5g", "drug", 24.0, 1),
    Item("XH02ABD001", "dexamethasone inj 5mg", "drug", 1.2, 1),
    Item("XJ01DHM001", "meropenem inj 0.5g", "drug", 98.0, 1),
    Item("XA02BCE001", "esomeprazole inj 40mg", "drug", 32.0, 1),
    Item("XH01BBO001", "oxytocin inj 10U", "drug", 2.8, 1),
    # exams
    Item("250101015", "complete blood count", "exam", 20.0),
    Item("250102001", "urinalysis", "exam", 10.0),
    Item("250305001", "liver function panel", "exam", 60.0),
    Item("250307001", "renal function panel", "exam", 45.0),
    Item("250302001", "blood glucose", "exam", 8.0),
    Item("250304009", "HbA1c", "exam", 65.0),
    Item("250309002", "troponin I", "exam", 95.0),
    Item("250403002", "arterial blood gas", "exam", 75.0),
    Item("250501004", "blood culture", "exam", 110.0),
    Item("310701001", "electrocardiogram 12-lead", "exam", 25.0),
    Item("210102015", "chest x-ray", "exam", 80.0),
    Item("210300001", "CT scan (per part)", "exam", 300.0),
    Item("210400001", "MRI scan (per part)", "exam", 600.0),
    Item("220301001", "abdominal ultrasound", "exam", 120.0),
    Item("220600001", "echocardiography", "exam", 220.0),
    Item("270800001", "pathology biopsy", "exam", 280.0),
    Item("310603001", "pulmonary function test", "exam", 150.0),
    Item("220302001", "obstetric ultrasound", "exam", 140.0),
    # procedures
    Item("330000001", "appendectomy", "procedure", 1_600.0),
    Item("331001002", "laparoscopic cholecystectomy", "procedure", 2_800.0),
    Item("320100001", "coronary angiography", "procedure", 2_200.0),
    Item("320500001", "percutaneous coronary intervention", "procedure", 6_500.0),
    Item("331501012", "total knee arthroplasty", "procedure", 5_600.0),
    Item("331501003", "femoral neck fracture fixation", "procedure", 3_900.0),
    Item("331502004", "tibial fracture internal fixation", "procedure", 3_200.0),
    Item("330604004", "cataract phacoemulsification + IOL", "procedure", 2_300.0),
    Item("331303002", "transurethral resection of prostate", "procedure", 2_600.0),
    Item("331202006", "caesarean section", "procedure", 1_800.0),
    Item("331204001", "normal vaginal delivery", "procedure", 800.0),
    Item("311201001", "chemotherapy infusion", "procedure", 180.0),
    Item("310603008", "mechanical ventilation (per hour)", "procedure", 12.0),
    Item("311000001", "haemodialysis", "procedure", 420.0),
    Item("330100001", "debridement and suture", "procedure", 260.0),
    Item("340200001", "rehabilitation physiotherapy", "procedure", 90.0),
    Item("310902001", "gastroscopy", "procedure", 350.0),
    # materials
    Item("C0301DES01", "drug-eluting coronary stent", "material", 780.0),
    Item("C1401KNE01", "knee prosthesis", "material", 5_200.0),
    Item("C1402SCR01", "bone fixation plate and screws", "material", 2_400.0),
    Item("C0801IOL01", "intraocular lens", "material", 900.0),
    Item("C0101SYR01", "disposable infusion set", "material", 3.5),
    Item("C0102GAU01", "sterile dressing pack", "material", 12.0),
    # services and beds (bed price by tier is applied on top)
    Item("110200001", "outpatient consultation", "service", 25.0),
    Item("120100001", "grade-II nursing (per day)", "service", 28.0),
    Item("120400001", "intravenous injection", "service", 8.0),
    Item("110900001", "ward bed (per day)", "bed", 60.0),
)
ITEM_INDEX = {it.code: i for i, it in enumerate(ITEMS)}
ITEM_CODES = np.array([it.code for it in ITEMS])
ITEM_CATEGORY = np.array([it.category for it in ITEMS])
ITEM_PRICE = np.array([it.price for it in ITEMS])
ITEM_DAYS = np.array([it.days_per_unit for it in ITEMS])

GENERIC_DRUGS = np.array(
    [ITEM_INDEX[c] for c in ("XJ01CAA001", "XN02BEA001", "XA02BCO001", "XR05CBA001", "XM01AEI001")]
)
INFUSION_DRUGS = np.array([ITEM_INDEX[c] for c in ("XB05BBS001", "XB05BAG001", "XJ01DDC001")])
GENERIC_EXAMS = np.array(
    [
        ITEM_INDEX[c]
        for c in ("250101015", "250102001", "250305001", "250307001", "310701001", "210102015")
    ]
)
CONSULT = ITEM_INDEX["110200001"]
NURSING = ITEM_INDEX["120100001"]
BED = ITEM_INDEX["110900001"]
INFUSION_SET = ITEM_INDEX["C0101SYR01"]
# A package of the price schedule and the components an unbundling provider bills instead.
PACKAGE_COMPONENTS: tuple[tuple[str, str, str, float], ...] = (
    ("331001002-01", "cholecystectomy: laparoscopic access", "procedure", 1_400.0),
    ("331001002-02", "cholecystectomy: gallbladder dissection", "procedure", 1_500.0),
    ("331001002-03", "cholecystectomy: closure", "procedure", 900.0),
    ("320500001-01", "PCI: guide wire placement", "procedure", 2_100.0),
    ("320500001-02", "PCI: balloon dilatation", "procedure", 2_600.0),
    ("320500001-03", "PCI: stent deployment", "procedure", 3_300.0),
    ("250100000-01", "panel component: haemoglobin", "exam", 9.0),
    ("250100000-02", "panel component: white cell count", "exam", 9.0),
    ("250100000-03", "panel component: platelet count", "exam", 9.0),
)


@dataclass(frozen=True)
class Diagnosis:
    """An ICD-10 code with the care it usually gets.

    ``out_w`` / ``in_w``: relative frequency among outpatient visits / admissions;
    ``los``: mean length of stay; ``cost``: cost multiplier on the average inpatient day;
    ``visit``: cost multiplier on the average outpatient visit; ``sex``/``age``: who can have
    it; ``drugs``/``exams``/``procs``: item codes that treat it.
    """

    code: str
    name: str
    group: str
    out_w: float
    in_w: float
    los: float
    cost: float
    visit: float
    sex: str = ""
    min_age: int = 0
    max_age: int = 120
    old_bias: float = 1.0
    drugs: tuple[str, ...] = ()
    exams: tuple[str, ...] = ()
    procs: tuple[str, ...] = ()


DIAGNOSES: tuple[Diagnosis, ...] = (
    Diagnosis(
        "J06.9",
        "acute upper respiratory infection",
        "acute",
        14,
        0.3,
        4,
        0.7,
        0.6,
        drugs=("XJ01CAA001", "XN02BEA001"),
        exams=("250101015",),
    ),
    Diagnosis(
        "J20.9",
        "acute bronchitis",
        "acute",
        7,
        1.0,
        6,
        0.8,
        0.8,
        drugs=("XR05CBA001", "XJ01CAA001"),
        exams=("250101015", "210102015"),
    ),
    Diagnosis(
        "J18.9",
        "pneumonia, unspecified",
        "acute",
        3,
        8,
        9,
        0.95,
        1.2,
        old_bias=1.6,
        drugs=("XJ01DDC001", "XJ01MAL001", "XR05CBA001"),
        exams=("210300001", "250101015"),
    ),
    Diagnosis(
        "K29.7",
        "gastritis",
        "acute",
        8,
        1.5,
        5,
        0.8,
        0.9,
        drugs=("XA02BCO001", "XA02BCE001"),
        exams=("310902001",),
    ),
    Diagnosis(
        "A09",
        "gastroenteritis and colitis",
        "acute",
        5,
        1.5,
        4,
        0.75,
        0.7,
        drugs=("XB05BBS001", "XJ01MAL001"),
        exams=("250101015",),
    ),
    Diagnosis(
        "N39.0",
        "urinary tract infection",
        "acute",
        4,
        1.5,
        6,
        0.8,
        0.8,
        drugs=("XJ01MAL001",),
        exams=("250102001",),
    ),
    Diagnosis(
        "K35.8",
        "acute appendicitis",
        "surgical",
        0.3,
        3,
        6,
        1.1,
        1.5,
        max_age=80,
        drugs=("XJ01DDC001",),
        exams=("220301001",),
        procs=("330000001",),
    ),
    Diagnosis(
        "K80.2",
        "gallstones without cholecystitis",
        "surgical",
        0.8,
        3,
        7,
        1.15,
        1.2,
        drugs=("XJ01DDC001",),
        exams=("220301001",),
        procs=("331001002",),
    ),
    Diagnosis(
        "I10",
        "essential hypertension",
        "chronic",
        10,
        2,
        8,
        0.8,
        1.0,
        min_age=30,
        old_bias=2.0,
        drugs=("XC08CAA001", "XC09CAV001"),
        exams=("310701001",),
    ),
    Diagnosis(
        "E11.9",
        "type 2 diabetes without complications",
        "chronic",
        8,
        2.5,
        9,
        0.85,
        1.1,
        min_age=30,
        old_bias=1.8,
        drugs=("XA10BAM001", "XA10AEG001"),
        exams=("250304009", "250302001"),
    ),
    Diagnosis(
        "J44.9",
        "chronic obstructive pulmonary disease",
        "chronic",
        3,
        5,
        10,
        0.9,
        1.2,
        min_age=40,
        old_bias=3.0,
        drugs=("XR03AKS001", "XR05CBA001"),
        exams=("310603001", "210102015"),
    ),
    Diagnosis(
        "N18.3",
        "chronic kidney disease, stage 3",
        "chronic",
        1.5,
        1.5,
        10,
        1.1,
        1.6,
        min_age=35,
        old_bias=2.0,
        drugs=("XC09CAV001",),
        exams=("250307001",),
        procs=("311000001",),
    ),
    Diagnosis(
        "I25.1",
        "atherosclerotic heart disease",
        "chronic",
        3,
        5,
        8,
        1.2,
        1.2,
        min_age=40,
        old_bias=2.5,
        drugs=("XB01ACC001", "XC10AAA001"),
        exams=("310701001", "220600001"),
    ),
    Diagnosis(
        "I20.0",
        "unstable angina",
        "cardio",
        0.5,
        4,
        7,
        1.7,
        1.3,
        min_age=40,
        old_bias=2.0,
        drugs=("XB01ACC001", "XC10AAA001"),
        exams=("310701001",),
        procs=("320100001",),
    ),
    Diagnosis(
        "I50.9",
        "heart failure",
        "cardio",
        1,
        4,
        10,
        1.1,
        1.3,
        min_age=45,
        old_bias=3.0,
        drugs=("XC03CAF001", "XC09CAV001"),
        exams=("220600001", "310701001"),
    ),
    Diagnosis(
        "I63.9",
        "cerebral infarction",
        "cardio",
        0.5,
        6,
        13,
        1.15,
        1.4,
        min_age=40,
        old_bias=3.0,
        drugs=("XB01ACC001", "XC10AAA001"),
        exams=("210400001",),
        procs=("340200001",),
    ),
    Diagnosis(
        "M54.5",
        "low back pain",
        "musculo",
        8,
        1.5,
        9,
        0.7,
        0.9,
        drugs=("XM01AEI001",),
        exams=("210400001",),
        procs=("340200001",),
    ),
    Diagnosis(
        "M17.1",
        "primary gonarthrosis (knee osteoarthritis)",
        "surgical",
        3,
        2,
        12,
        1.4,
        1.0,
        min_age=50,
        old_bias=2.0,
        drugs=("XM01AEI001", "XB01ABE001"),
        exams=("210102015",),
        procs=("331501012",),
    ),
    Diagnosis(
        "H25.9",
        "senile cataract",
        "surgical",
        1.5,
        2,
        2,
        2.5,
        0.9,
        min_age=50,
        old_bias=3.0,
        exams=("250101015",),
        procs=("330604004",),
    ),
    Diagnosis(
        "N40",
        "benign prostatic hyperplasia",
        "surgical",
        2,
        1.5,
        7,
        1.1,
        1.0,
        sex="M",
        min_age=45,
        old_bias=2.0,
        drugs=("XG04CAT001",),
        exams=("220301001",),
        procs=("331303002",),
    ),
    Diagnosis(
        "F32.9",
        "depressive episode",
        "mental",
        3,
        0.5,
        20,
        0.45,
        1.2,
        drugs=("XN06ABS001",),
        exams=("250101015",),
    ),
    Diagnosis(
        "Z00.0",
        "general medical examination",
        "checkup",
        4,
        0.0,
        1,
        0.5,
        1.5,
        exams=("250101015", "250305001", "220301001"),
    ),
    Diagnosis(
        "O80",
        "single spontaneous delivery",
        "maternity",
        0.0,
        0.0,
        3,
        1.1,
        1.0,
        sex="F",
        min_age=18,
        max_age=45,
        drugs=("XH01BBO001",),
        exams=("220302001",),
        procs=("331204001",),
    ),
    Diagnosis(
        "O82",
        "delivery by caesarean section",
        "maternity",
        0.0,
        0.0,
        5,
        1.3,
        1.0,
        sex="F",
        min_age=18,
        max_age=45,
        drugs=("XH01BBO001", "XJ01DDC001"),
        exams=("220302001",),
        procs=("331202006",),
    ),
    Diagnosis(
        "S72.0",
        "fracture of neck of femur",
        "injury",
        0.2,
        1.5,
        14,
        1.3,
        1.5,
        min_age=18,
        old_bias=3.0,
        drugs=("XB01ABE001",),
        exams=("210300001",),
        procs=("331501003",),
    ),
    Diagnosis(
        "S82.2",
        "fracture of shaft of tibia",
        "injury",
        0.5,
        1.0,
        12,
        1.25,
        1.5,
        drugs=("XB01ABE001",),
        exams=("210102015",),
        procs=("331502004",),
    ),
    Diagnosis(
        "S62.6",
        "fracture of finger",
        "injury",
        1.0,
        0.3,
        4,
        1.0,
        1.3,
        exams=("210102015",),
        procs=("330100001",),
    ),
    Diagnosis(
        "S61.0",
        "open wound of finger",
        "injury",
        1.5,
        0.2,
        3,
        0.9,
        1.0,
        drugs=("XJ01CAA001",),
        procs=("330100001",),
    ),
    Diagnosis(
        "C34.9",
        "malignant neoplasm of bronchus or lung",
        "oncology",
        0.5,
        2.0,
        11,
        1.5,
        2.5,
        min_age=40,
        old_bias=2.0,
        drugs=("XL01BCG001", "XL01XAP001"),
        exams=("210300001", "270800001"),
        procs=("311201001",),
    ),
    Diagnosis(
        "C50.9",
        "malignant neoplasm of breast",
        "oncology",
        0.5,
        1.5,
        8,
        1.5,
        2.5,
        sex="F",
        min_age=30,
        drugs=("XL01XCT001",),
        exams=("220301001", "270800001"),
        procs=("311201001",),
    ),
    Diagnosis(
        "C18.9",
        "malignant neoplasm of colon",
        "oncology",
        0.3,
        1.2,
        12,
        1.5,
        2.5,
        min_age=40,
        old_bias=2.0,
        drugs=("XL01XAP001",),
        exams=("210300001", "270800001"),
        procs=("311201001",),
    ),
    Diagnosis(
        "Z50.1",
        "physiotherapy (rehabilitation care)",
        "rehab",
        0.5,
        0.0,
        25,
        0.55,
        1.0,
        min_age=18,
        old_bias=2.0,
        exams=("250101015",),
        procs=("340200001",),
    ),
    # heavier codes that upcoding swaps in
    Diagnosis(
        "J96.0",
        "acute respiratory failure",
        "heavy",
        0.0,
        0.6,
        12,
        1.6,
        2.0,
        min_age=18,
        old_bias=3.0,
        drugs=("XJ01DHM001", "XH02ABD001"),
        exams=("250403002",),
        procs=("310603008",),
    ),
    Diagnosis(
        "I21.9",
        "acute myocardial infarction",
        "heavy",
        0.0,
        0.8,
        9,
        2.6,
        2.0,
        min_age=35,
        old_bias=2.5,
        drugs=("XB01ACT001", "XB01ACC001"),
        exams=("250309002",),
        procs=("320500001",),
    ),
    Diagnosis(
        "E11.2",
        "type 2 diabetes with kidney complications",
        "heavy",
        0.5,
        0.6,
        11,
        1.3,
        1.5,
        min_age=35,
        old_bias=2.0,
        drugs=("XA10AEG001",),
        exams=("250307001", "250304009"),
        procs=("311000001",),
    ),
    Diagnosis(
        "I61.9",
        "intracerebral haemorrhage",
        "heavy",
        0.0,
        0.6,
        16,
        1.6,
        2.0,
        min_age=35,
        old_bias=2.5,
        drugs=("XH02ABD001", "XC03CAF001"),
        exams=("210300001",),
        procs=("340200001",),
    ),
    Diagnosis(
        "K25.0",
        "acute gastric ulcer with haemorrhage",
        "heavy",
        0.0,
        0.6,
        8,
        1.4,
        2.0,
        drugs=("XA02BCE001",),
        exams=("310902001", "250101015"),
    ),
    Diagnosis(
        "A41.9",
        "sepsis, unspecified",
        "heavy",
        0.0,
        0.5,
        12,
        1.7,
        2.0,
        drugs=("XJ01DHM001",),
        exams=("250501004",),
    ),
)
DX_INDEX = {d.code: i for i, d in enumerate(DIAGNOSES)}
DX_CODES = np.array([d.code for d in DIAGNOSES])
DX_GROUP = np.array([d.group for d in DIAGNOSES])
DX_LOS = np.array([d.los for d in DIAGNOSES])
DX_COST = np.array([d.cost for d in DIAGNOSES])
DX_VISIT = np.array([d.visit for d in DIAGNOSES])
DX_SEX = np.array([d.sex for d in DIAGNOSES])
DX_MIN_AGE = np.array([d.min_age for d in DIAGNOSES])
DX_MAX_AGE = np.array([d.max_age for d in DIAGNOSES])

# Light diagnosis -> the heavier code an upcoding provider bills instead.
UPCODE_MAP: dict[str, str] = {
    "J18.9": "J96.0",
    "J44.9": "J96.0",
    "I20.0": "I21.9",
    "I25.1": "I21.9",
    "E11.9": "E11.2",
    "I63.9": "I61.9",
    "K29.7": "K25.0",
    "N39.0": "A41.9",
    "J20.9": "J18.9",
    "I10": "I50.9",
    "A09": "K25.0",
}
CHRONIC_DX = ("I10", "E11.9", "J44.9", "I25.1", "N18.3")
CANCER_DX = ("C34.9", "C50.9", "C18.9")
# Diagnoses impossible or implausible for the claimant: sex-specific ones and age-bound ones.
FEMALE_ONLY_DX = ("O80", "O82")
MALE_ONLY_DX = ("N40",)
ELDERLY_ONLY_DX = ("H25.9", "M17.1")
HIGH_VALUE_DRUGS = ("XL04ADT001", "XA10BJS001", "XA10AEG001", "XR03AKS001")


def _padded(lists: list[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, max(len(x) for x in lists))
    table = np.full((len(lists), width), -1, dtype=np.int64)
    count = np.zeros(len(lists), dtype=np.int64)
    for i, codes in enumerate(lists):
        idx = [ITEM_INDEX[c] for c in codes]
        table[i, : len(idx)] = idx
        count[i] = len(idx)
    return table, count


DX_DRUGS, DX_N_DRUGS = _padded([d.drugs for d in DIAGNOSES])
DX_EXAMS, DX_N_EXAMS = _padded([d.exams for d in DIAGNOSES])
DX_PROCS, DX_N_PROCS = _padded([d.procs for d in DIAGNOSES])
