//! The vocabulary synthetic policies are written in: titles, indications with
//! their ICD-10-CM codes, criteria, code descriptions, reference material.
//!
//! The words come from the domain (real procedure, drug and test names, real
//! diagnosis categories) so that catalogues read like published policies and
//! text-heavy code paths (markup stripping, citations, search) see realistic
//! lengths and shapes.

use fastrand::Rng;

use crate::dist::{self, chance, pick, weighted};

/// What a policy is about; it decides which code ranges its lists use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Procedure,
    Drug,
    GeneticTest,
    Imaging,
    Device,
    Therapy,
}

/// An indication statements can be restricted to, with the ICD-10-CM codes
/// (categories and subcategories, canonical form) that name it.
pub struct Indication {
    /// As written inside a sentence.
    pub name: &'static str,
    /// As written in a title.
    pub title: &'static str,
    pub diagnoses: &'static [&'static str],
}

pub const INDICATIONS: &[Indication] = &[
    ind(
        "knee osteoarthritis",
        "Knee Osteoarthritis",
        &["M17", "M17.0", "M17.1", "M17.9"],
    ),
    ind(
        "hip osteoarthritis",
        "Hip Osteoarthritis",
        &["M16", "M16.0", "M16.1"],
    ),
    ind(
        "chronic low back pain",
        "Chronic Low Back Pain",
        &["M54.5", "M54.50", "M54.59"],
    ),
    ind(
        "chronic pain syndrome",
        "Chronic Pain Syndrome",
        &["G89.4", "G89.29"],
    ),
    ind(
        "lumbar radiculopathy",
        "Lumbar Radiculopathy",
        &["M54.16", "M54.17", "M51.16"],
    ),
    ind(
        "cervical radiculopathy",
        "Cervical Radiculopathy",
        &["M54.12", "M50.1", "M50.12"],
    ),
    ind(
        "lumbar spinal stenosis",
        "Lumbar Spinal Stenosis",
        &["M48.06", "M48.061", "M48.062"],
    ),
    ind(
        "degenerative disc disease",
        "Degenerative Disc Disease",
        &["M51.36", "M51.37", "M50.30"],
    ),
    ind("neck pain", "Neck Pain", &["M54.2"]),
    ind(
        "chronic migraine",
        "Chronic Migraine",
        &["G43", "G43.7", "G43.709", "G43.909"],
    ),
    ind(
        "rheumatoid arthritis",
        "Rheumatoid Arthritis",
        &["M05", "M06", "M06.9"],
    ),
    ind("plantar fasciitis", "Plantar Fasciitis", &["M72.2"]),
    ind(
        "lateral epicondylitis",
        "Lateral Epicondylitis",
        &["M77.1", "M77.10", "M77.11", "M77.12"],
    ),
    ind(
        "rotator cuff tendinopathy",
        "Rotator Cuff Tendinopathy",
        &["M75.1", "M75.10", "M75.80"],
    ),
    ind(
        "femoroacetabular impingement",
        "Femoroacetabular Impingement",
        &["M25.851", "M25.852", "M24.85"],
    ),
    ind(
        "focal cartilage defects of the knee",
        "Cartilage Defects of the Knee",
        &["M94.26", "M93.26", "M23.9"],
    ),
    ind("Dupuytren contracture", "Dupuytren Contracture", &["M72.0"]),
    ind(
        "breast cancer",
        "Breast Cancer",
        &["C50", "C50.9", "C50.919", "Z85.3"],
    ),
    ind(
        "colorectal cancer",
        "Colorectal Cancer",
        &["C18", "C19", "C20", "Z85.038"],
    ),
    ind(
        "non-small cell lung cancer",
        "Non-Small Cell Lung Cancer",
        &["C34", "C34.9", "C34.90"],
    ),
    ind("prostate cancer", "Prostate Cancer", &["C61", "Z85.46"]),
    ind("melanoma", "Melanoma", &["C43", "C43.9"]),
    ind(
        "renal cell carcinoma",
        "Renal Cell Carcinoma",
        &["C64", "C64.1", "C64.2"],
    ),
    ind(
        "hepatocellular carcinoma",
        "Hepatocellular Carcinoma",
        &["C22.0"],
    ),
    ind(
        "primary brain tumors",
        "Primary Brain Tumors",
        &["C71", "C71.9"],
    ),
    ind("thyroid nodules", "Thyroid Nodules", &["E04.1", "E04.2"]),
    ind(
        "acute myeloid leukemia",
        "Acute Myeloid Leukemia",
        &["C92.0", "C92.00"],
    ),
    ind("multiple myeloma", "Multiple Myeloma", &["C90.0", "C90.00"]),
    ind(
        "B-cell lymphoma",
        "B-Cell Lymphoma",
        &["C83.3", "C83.30", "C85.1"],
    ),
    ind("multiple sclerosis", "Multiple Sclerosis", &["G35"]),
    ind("Parkinson disease", "Parkinson Disease", &["G20", "G20.C"]),
    ind("essential tremor", "Essential Tremor", &["G25.0"]),
    ind("dystonia", "Dystonia", &["G24", "G24.9", "G24.3"]),
    ind("spasticity", "Spasticity", &["R25.2", "G80.1"]),
    ind(
        "drug-resistant epilepsy",
        "Drug-Resistant Epilepsy",
        &["G40", "G40.919", "G40.319"],
    ),
    ind("trigeminal neuralgia", "Trigeminal Neuralgia", &["G50.0"]),
    ind("Alzheimer disease", "Alzheimer Disease", &["G30", "G30.9"]),
    ind(
        "amyotrophic lateral sclerosis",
        "Amyotrophic Lateral Sclerosis",
        &["G12.21"],
    ),
    ind(
        "chronic inflammatory demyelinating polyneuropathy",
        "Chronic Inflammatory Demyelinating Polyneuropathy",
        &["G61.81"],
    ),
    ind(
        "obstructive sleep apnea",
        "Obstructive Sleep Apnea",
        &["G47.33"],
    ),
    ind(
        "type 2 diabetes mellitus",
        "Type 2 Diabetes Mellitus",
        &["E11", "E11.9", "E11.65"],
    ),
    ind(
        "type 1 diabetes mellitus",
        "Type 1 Diabetes Mellitus",
        &["E10", "E10.9", "E10.65"],
    ),
    ind(
        "heart failure",
        "Heart Failure",
        &["I50", "I50.9", "I50.22", "I50.32"],
    ),
    ind(
        "atrial fibrillation",
        "Atrial Fibrillation",
        &["I48", "I48.0", "I48.91"],
    ),
    ind("aortic stenosis", "Aortic Stenosis", &["I35.0", "I35.2"]),
    ind("mitral regurgitation", "Mitral Regurgitation", &["I34.0"]),
    ind(
        "pulmonary valve dysfunction",
        "Pulmonary Valve Dysfunction",
        &["I37.1", "I37.8", "Q22.1"],
    ),
    ind(
        "coronary artery disease",
        "Coronary Artery Disease",
        &["I25.10", "I25.1", "I25.119"],
    ),
    ind(
        "resistant hypertension",
        "Resistant Hypertension",
        &["I1A.0", "I10"],
    ),
    ind("syncope of unknown origin", "Syncope", &["R55"]),
    ind(
        "hypertrophic cardiomyopathy",
        "Hypertrophic Cardiomyopathy",
        &["I42.1", "I42.2"],
    ),
    ind("long QT syndrome", "Long QT Syndrome", &["I45.81"]),
    ind(
        "major depressive disorder",
        "Major Depressive Disorder",
        &["F32", "F33", "F33.2"],
    ),
    ind(
        "autism spectrum disorder",
        "Autism Spectrum Disorder",
        &["F84.0"],
    ),
    ind(
        "developmental delay",
        "Developmental Delay",
        &["F88", "R62.50"],
    ),
    ind(
        "severe obesity",
        "Severe Obesity",
        &["E66.01", "Z68.41", "Z68.45"],
    ),
    ind(
        "open-angle glaucoma",
        "Open-Angle Glaucoma",
        &["H40.1", "H40.11", "H40.10"],
    ),
    ind("keratoconus", "Keratoconus", &["H18.6", "H18.60"]),
    ind(
        "neovascular age-related macular degeneration",
        "Neovascular Age-Related Macular Degeneration",
        &["H35.32", "H35.3210"],
    ),
    ind(
        "inherited retinal dystrophy",
        "Inherited Retinal Dystrophy",
        &["H35.52"],
    ),
    ind(
        "thyroid eye disease",
        "Thyroid Eye Disease",
        &["H06.2", "E05.00"],
    ),
    ind("plaque psoriasis", "Plaque Psoriasis", &["L40", "L40.0"]),
    ind("atopic dermatitis", "Atopic Dermatitis", &["L20", "L20.9"]),
    ind(
        "severe asthma",
        "Severe Asthma",
        &["J45.5", "J45.50", "J45.51"],
    ),
    ind(
        "chronic obstructive pulmonary disease",
        "Chronic Obstructive Pulmonary Disease",
        &["J44", "J44.9"],
    ),
    ind("Crohn disease", "Crohn Disease", &["K50", "K50.90"]),
    ind(
        "ulcerative colitis",
        "Ulcerative Colitis",
        &["K51", "K51.90"],
    ),
    ind("gastroparesis", "Gastroparesis", &["K31.84"]),
    ind(
        "gastroesophageal reflux disease",
        "Gastroesophageal Reflux Disease",
        &["K21", "K21.9"],
    ),
    ind("achalasia", "Achalasia", &["K22.0"]),
    ind(
        "obscure gastrointestinal bleeding",
        "Obscure Gastrointestinal Bleeding",
        &["K92.2", "K92.1"],
    ),
    ind(
        "end-stage renal disease",
        "End-Stage Renal Disease",
        &["N18.6", "Z99.2"],
    ),
    ind(
        "anemia in chronic kidney disease",
        "Anemia in Chronic Kidney Disease",
        &["D63.1", "N18.4"],
    ),
    ind(
        "iron deficiency anemia",
        "Iron Deficiency Anemia",
        &["D50", "D50.9"],
    ),
    ind(
        "paroxysmal nocturnal hemoglobinuria",
        "Paroxysmal Nocturnal Hemoglobinuria",
        &["D59.5"],
    ),
    ind(
        "chemotherapy-induced neutropenia",
        "Chemotherapy-Induced Neutropenia",
        &["D70.1"],
    ),
    ind(
        "primary immunodeficiency",
        "Primary Immunodeficiency",
        &["D80", "D81", "D83.9"],
    ),
    ind(
        "inherited thrombophilia",
        "Inherited Thrombophilia",
        &["D68.5", "D68.51", "D68.59"],
    ),
    ind(
        "urinary incontinence",
        "Urinary Incontinence",
        &["N39.4", "N39.41", "R32"],
    ),
    ind("overactive bladder", "Overactive Bladder", &["N32.81"]),
    ind(
        "fecal incontinence",
        "Fecal Incontinence",
        &["R15", "R15.9"],
    ),
    ind("uterine leiomyoma", "Uterine Fibroids", &["D25", "D25.9"]),
    ind(
        "sensorineural hearing loss",
        "Sensorineural Hearing Loss",
        &["H90.3", "H90.5"],
    ),
    ind(
        "adolescent idiopathic scoliosis",
        "Adolescent Idiopathic Scoliosis",
        &["M41.1", "M41.12", "M41.125"],
    ),
    ind(
        "varicose veins of the lower extremities",
        "Varicose Veins",
        &["I83", "I83.9", "I83.81"],
    ),
    ind(
        "peripheral artery disease",
        "Peripheral Artery Disease",
        &["I73.9", "I70.2", "I70.21"],
    ),
    ind("fibromyalgia", "Fibromyalgia", &["M79.7"]),
    ind(
        "chronic rhinosinusitis",
        "Chronic Rhinosinusitis",
        &["J32", "J32.9"],
    ),
    ind(
        "sacroiliac joint dysfunction",
        "Sacroiliac Joint Dysfunction",
        &["M53.3", "M53.2X8", "M46.1"],
    ),
    ind(
        "osteoporotic vertebral compression fracture",
        "Vertebral Compression Fractures",
        &["M48.5", "M80.08", "S32.0"],
    ),
    ind("osteoporosis", "Osteoporosis", &["M81.0", "M80.0"]),
    ind(
        "fracture nonunion",
        "Fracture Nonunion",
        &["M84.1", "S72.90XK"],
    ),
    ind(
        "diabetic foot ulcer",
        "Diabetic Foot Ulcers",
        &["E11.621", "L97.5", "L97.4"],
    ),
    ind(
        "chronic wounds",
        "Chronic Wounds",
        &["L89", "L97.9", "I87.2"],
    ),
    ind("lymphedema", "Lymphedema", &["I89.0", "I97.2"]),
    ind(
        "lower limb amputation",
        "Lower Limb Amputation",
        &["Z89.4", "Z89.5", "Z89.6"],
    ),
    ind(
        "upper limb absence",
        "Upper Limb Absence",
        &["Z89.2", "Z89.20"],
    ),
    ind(
        "mobility limitation",
        "Mobility Limitation",
        &["R26.2", "Z74.0"],
    ),
    ind("hypoxemia", "Hypoxemia", &["R09.02"]),
    ind("glioblastoma", "Glioblastoma", &["C71.9", "C71.0"]),
    ind(
        "sudden cardiac arrest risk",
        "Sudden Cardiac Death Risk",
        &["I46.9", "Z86.74"],
    ),
    ind(
        "spinal muscular atrophy",
        "Spinal Muscular Atrophy",
        &["G12.0", "G12.1"],
    ),
    ind(
        "Duchenne muscular dystrophy",
        "Duchenne Muscular Dystrophy",
        &["G71.01"],
    ),
    ind("fragile X syndrome", "Fragile X Syndrome", &["Q99.2"]),
    ind(
        "cystic fibrosis",
        "Cystic Fibrosis",
        &["E84", "E84.0", "E84.9"],
    ),
    ind(
        "familial hypercholesterolemia",
        "Familial Hypercholesterolemia",
        &["E78.01"],
    ),
    ind(
        "hereditary hemochromatosis",
        "Hereditary Hemochromatosis",
        &["E83.110"],
    ),
    ind(
        "alpha-1 antitrypsin deficiency",
        "Alpha-1 Antitrypsin Deficiency",
        &["E88.01"],
    ),
    ind("Rett syndrome", "Rett Syndrome", &["F84.2"]),
    ind("Huntington disease", "Huntington Disease", &["G10"]),
    ind("Marfan syndrome", "Marfan Syndrome", &["Q87.40", "Q87.41"]),
    ind(
        "mitochondrial disorders",
        "Mitochondrial Disorders",
        &["E88.40", "E88.49"],
    ),
    ind(
        "hereditary cancer risk",
        "Hereditary Cancer Risk",
        &["Z15.0", "Z15.01", "Z80.3", "Z80.0"],
    ),
    ind(
        "Lynch syndrome",
        "Lynch Syndrome",
        &["Z15.09", "Z80.0", "Z85.038"],
    ),
    ind(
        "lysosomal storage disorders",
        "Lysosomal Storage Disorders",
        &["E75.22", "E76.0", "E75.21"],
    ),
    ind("hypogonadism", "Hypogonadism", &["E29.1", "E23.0"]),
    ind(
        "growth hormone deficiency",
        "Growth Hormone Deficiency",
        &["E23.0"],
    ),
    ind(
        "treatment-resistant depression",
        "Treatment-Resistant Depression",
        &["F33.2", "F32.2"],
    ),
    ind(
        "speech and language disorders",
        "Speech and Language Disorders",
        &["F80.0", "F80.2"],
    ),
    ind(
        "convergence insufficiency",
        "Convergence Insufficiency",
        &["H51.11"],
    ),
    ind(
        "traumatic brain injury",
        "Traumatic Brain Injury",
        &["S06.9", "S06.2"],
    ),
    ind(
        "stroke rehabilitation",
        "Stroke Rehabilitation",
        &["I69.3", "I69.35"],
    ),
    ind("cerebral palsy", "Cerebral Palsy", &["G80", "G80.9"]),
    ind(
        "ADHD",
        "Attention-Deficit Hyperactivity Disorder",
        &["F90", "F90.2"],
    ),
];

/// An indication in table order.
const fn ind(
    name: &'static str,
    title: &'static str,
    diagnoses: &'static [&'static str],
) -> Indication {
    Indication {
        name,
        title,
        diagnoses,
    }
}

/// The position of an indication by name; every name the tables below use is
/// in [`INDICATIONS`] (a test checks it).
fn indication(name: &str) -> Option<usize> {
    INDICATIONS.iter().position(|i| i.name == name)
}

/// A subject of policies and the indications (by name) it is used for.
type Subject = (&'static str, &'static [&'static str]);

const PROCEDURES: &[Subject] = &[
    (
        "Prolotherapy",
        &[
            "knee osteoarthritis",
            "chronic low back pain",
            "lateral epicondylitis",
            "plantar fasciitis",
        ],
    ),
    (
        "Spinal Cord Stimulation",
        &[
            "chronic pain syndrome",
            "lumbar radiculopathy",
            "peripheral artery disease",
        ],
    ),
    (
        "Percutaneous Vertebroplasty and Kyphoplasty",
        &["osteoporotic vertebral compression fracture"],
    ),
    ("Sacroiliac Joint Fusion", &["sacroiliac joint dysfunction"]),
    (
        "Radiofrequency Ablation of Genicular Nerves",
        &["knee osteoarthritis"],
    ),
    (
        "Bariatric Surgery",
        &["severe obesity", "type 2 diabetes mellitus"],
    ),
    (
        "Transcatheter Aortic Valve Replacement",
        &["aortic stenosis"],
    ),
    (
        "Transcatheter Edge-to-Edge Mitral Valve Repair",
        &["mitral regurgitation", "heart failure"],
    ),
    (
        "Transcatheter Pulmonary Valve Implantation",
        &["pulmonary valve dysfunction"],
    ),
    (
        "Transcatheter Arterial Chemoembolization",
        &["hepatocellular carcinoma"],
    ),
    (
        "Deep Brain Stimulation",
        &[
            "Parkinson disease",
            "essential tremor",
            "dystonia",
            "drug-resistant epilepsy",
        ],
    ),
    (
        "Vagus Nerve Stimulation",
        &["drug-resistant epilepsy", "treatment-resistant depression"],
    ),
    (
        "Hypoglossal Nerve Stimulation",
        &["obstructive sleep apnea"],
    ),
    (
        "Sacral Nerve Neuromodulation",
        &[
            "urinary incontinence",
            "overactive bladder",
            "fecal incontinence",
        ],
    ),
    ("Occipital Nerve Stimulation", &["chronic migraine"]),
    ("Balloon Sinus Ostial Dilation", &["chronic rhinosinusitis"]),
    ("Cochlear Implant", &["sensorineural hearing loss"]),
    (
        "Hip Arthroscopy",
        &["femoroacetabular impingement", "hip osteoarthritis"],
    ),
    (
        "Autologous Chondrocyte Implantation",
        &["focal cartilage defects of the knee"],
    ),
    (
        "Meniscal Allograft Transplantation",
        &["focal cartilage defects of the knee"],
    ),
    (
        "Minimally Invasive Lumbar Decompression",
        &["lumbar spinal stenosis"],
    ),
    (
        "Interspinous and Interlaminar Stabilization Devices",
        &["lumbar spinal stenosis", "degenerative disc disease"],
    ),
    (
        "Endovenous Ablation of Varicose Veins",
        &["varicose veins of the lower extremities"],
    ),
    (
        "Hyperbaric Oxygen Therapy",
        &["diabetic foot ulcer", "chronic wounds"],
    ),
    (
        "Extracorporeal Shock Wave Therapy",
        &[
            "plantar fasciitis",
            "lateral epicondylitis",
            "rotator cuff tendinopathy",
        ],
    ),
    (
        "Platelet-Rich Plasma Injection",
        &[
            "knee osteoarthritis",
            "lateral epicondylitis",
            "rotator cuff tendinopathy",
        ],
    ),
    (
        "Intradiscal Electrothermal Annuloplasty",
        &["degenerative disc disease", "chronic low back pain"],
    ),
    ("Peroral Endoscopic Myotomy", &["achalasia"]),
    ("Cryoablation of Renal Tumors", &["renal cell carcinoma"]),
    (
        "Laser Interstitial Thermal Therapy",
        &["drug-resistant epilepsy", "primary brain tumors"],
    ),
    (
        "Magnetic Resonance-Guided Focused Ultrasound",
        &["essential tremor", "uterine leiomyoma"],
    ),
    (
        "Lumbar Spinal Fusion",
        &[
            "degenerative disc disease",
            "lumbar spinal stenosis",
            "adolescent idiopathic scoliosis",
        ],
    ),
    (
        "Cervical Artificial Intervertebral Disc",
        &["cervical radiculopathy"],
    ),
    (
        "Percutaneous Left Atrial Appendage Closure",
        &["atrial fibrillation"],
    ),
    (
        "Catheter-Based Renal Denervation",
        &["resistant hypertension"],
    ),
    ("Gastric Electrical Stimulation", &["gastroparesis"]),
    ("Endoscopic Sleeve Gastroplasty", &["severe obesity"]),
    ("Uterine Fibroid Embolization", &["uterine leiomyoma"]),
    ("Corneal Collagen Cross-Linking", &["keratoconus"]),
    ("Micro-Invasive Glaucoma Surgery", &["open-angle glaucoma"]),
    (
        "Facet Joint Injections",
        &["neck pain", "chronic low back pain"],
    ),
    (
        "Epidural Steroid Injections",
        &[
            "lumbar radiculopathy",
            "cervical radiculopathy",
            "lumbar spinal stenosis",
        ],
    ),
    ("Reduction Mammaplasty", &[]),
    ("Blepharoplasty", &[]),
    ("Panniculectomy", &[]),
    ("Orthognathic Surgery", &[]),
    (
        "Stereotactic Radiosurgery",
        &[
            "primary brain tumors",
            "trigeminal neuralgia",
            "non-small cell lung cancer",
        ],
    ),
    (
        "Proton Beam Radiation Therapy",
        &[
            "prostate cancer",
            "primary brain tumors",
            "hepatocellular carcinoma",
        ],
    ),
    (
        "Intensity-Modulated Radiation Therapy",
        &["prostate cancer", "breast cancer"],
    ),
    (
        "Allogeneic Hematopoietic Cell Transplantation",
        &["acute myeloid leukemia", "multiple myeloma"],
    ),
    ("Islet Transplantation", &["type 1 diabetes mellitus"]),
    ("Transanal Endoscopic Microsurgery", &["colorectal cancer"]),
];

const DRUGS: &[Subject] = &[
    (
        "Infliximab and Biosimilars",
        &[
            "Crohn disease",
            "ulcerative colitis",
            "rheumatoid arthritis",
            "plaque psoriasis",
        ],
    ),
    (
        "Pembrolizumab (Keytruda)",
        &["melanoma", "non-small cell lung cancer"],
    ),
    (
        "Nivolumab (Opdivo)",
        &[
            "melanoma",
            "renal cell carcinoma",
            "non-small cell lung cancer",
        ],
    ),
    (
        "Botulinum Toxin",
        &[
            "chronic migraine",
            "dystonia",
            "spasticity",
            "overactive bladder",
        ],
    ),
    (
        "Intravitreal Anti-VEGF Agents",
        &["neovascular age-related macular degeneration"],
    ),
    ("Hyaluronic Acid Injections", &["knee osteoarthritis"]),
    ("Omalizumab (Xolair)", &["severe asthma"]),
    ("Ocrelizumab (Ocrevus)", &["multiple sclerosis"]),
    ("Nusinersen (Spinraza)", &["spinal muscular atrophy"]),
    (
        "Eculizumab (Soliris)",
        &["paroxysmal nocturnal hemoglobinuria"],
    ),
    ("Denosumab (Prolia, Xgeva)", &["osteoporosis"]),
    ("Testosterone Therapy", &["hypogonadism"]),
    ("Growth Hormone Therapy", &["growth hormone deficiency"]),
    (
        "Intravenous Immune Globulin",
        &[
            "primary immunodeficiency",
            "chronic inflammatory demyelinating polyneuropathy",
        ],
    ),
    ("CGRP Inhibitors", &["chronic migraine"]),
    (
        "Pegfilgrastim and Biosimilars",
        &["chemotherapy-induced neutropenia"],
    ),
    (
        "Rituximab and Biosimilars",
        &["B-cell lymphoma", "rheumatoid arthritis"],
    ),
    (
        "Natalizumab (Tysabri)",
        &["multiple sclerosis", "Crohn disease"],
    ),
    (
        "Vedolizumab (Entyvio)",
        &["Crohn disease", "ulcerative colitis"],
    ),
    (
        "Ustekinumab (Stelara)",
        &["plaque psoriasis", "Crohn disease"],
    ),
    (
        "Dupilumab (Dupixent)",
        &["atopic dermatitis", "severe asthma"],
    ),
    ("Mepolizumab (Nucala)", &["severe asthma"]),
    ("Teprotumumab (Tepezza)", &["thyroid eye disease"]),
    (
        "Onasemnogene Abeparvovec (Zolgensma)",
        &["spinal muscular atrophy"],
    ),
    (
        "Chimeric Antigen Receptor T-Cell Therapy",
        &["B-cell lymphoma", "multiple myeloma"],
    ),
    (
        "Erythropoiesis-Stimulating Agents",
        &["anemia in chronic kidney disease"],
    ),
    (
        "Intravenous Iron Replacement Therapy",
        &["iron deficiency anemia"],
    ),
    ("Leuprolide Acetate", &["prostate cancer"]),
    ("Romosozumab (Evenity)", &["osteoporosis"]),
    (
        "Collagenase Clostridium Histolyticum",
        &["Dupuytren contracture"],
    ),
    (
        "Alpha-1 Proteinase Inhibitors",
        &["alpha-1 antitrypsin deficiency"],
    ),
    (
        "Enzyme Replacement Therapy",
        &["lysosomal storage disorders"],
    ),
    (
        "Ketamine Infusion",
        &["treatment-resistant depression", "chronic pain syndrome"],
    ),
    (
        "Esketamine Nasal Spray",
        &["treatment-resistant depression"],
    ),
];

/// Conditions of "Genetic Testing for ..." titles.
const GENETIC_CONDITIONS: &[Subject] = &[
    (
        "Hereditary Breast and Ovarian Cancer",
        &["hereditary cancer risk", "breast cancer"],
    ),
    ("Lynch Syndrome", &["Lynch syndrome", "colorectal cancer"]),
    ("Cardiac Ion Channelopathies", &["long QT syndrome"]),
    (
        "Familial Hypercholesterolemia",
        &["familial hypercholesterolemia"],
    ),
    ("Hereditary Hearing Loss", &["sensorineural hearing loss"]),
    ("Spinal Muscular Atrophy", &["spinal muscular atrophy"]),
    (
        "Duchenne and Becker Muscular Dystrophy",
        &["Duchenne muscular dystrophy"],
    ),
    (
        "Fragile X Syndrome",
        &["fragile X syndrome", "developmental delay"],
    ),
    ("Cystic Fibrosis", &["cystic fibrosis"]),
    (
        "Hereditary Hemochromatosis",
        &["hereditary hemochromatosis"],
    ),
    (
        "Alpha-1 Antitrypsin Deficiency",
        &["alpha-1 antitrypsin deficiency"],
    ),
    ("Rett Syndrome", &["Rett syndrome"]),
    ("Epilepsy", &["drug-resistant epilepsy"]),
    (
        "Hypertrophic Cardiomyopathy",
        &["hypertrophic cardiomyopathy"],
    ),
    ("Inherited Thrombophilia", &["inherited thrombophilia"]),
    ("Huntington Disease", &["Huntington disease"]),
    (
        "Marfan Syndrome and Related Disorders",
        &["Marfan syndrome"],
    ),
    (
        "Developmental Delay and Autism Spectrum Disorder",
        &["developmental delay", "autism spectrum disorder"],
    ),
    ("Mitochondrial Disorders", &["mitochondrial disorders"]),
    (
        "Inherited Retinal Dystrophies",
        &["inherited retinal dystrophy"],
    ),
    (
        "Amyotrophic Lateral Sclerosis",
        &["amyotrophic lateral sclerosis"],
    ),
];

/// Cancers of "Gene Expression Profiling for ..." and "Somatic Biomarker Testing for ..." titles.
const CANCERS: &[Subject] = &[
    ("Breast Cancer", &["breast cancer"]),
    ("Prostate Cancer", &["prostate cancer"]),
    (
        "Non-Small Cell Lung Cancer",
        &["non-small cell lung cancer"],
    ),
    ("Colorectal Cancer", &["colorectal cancer"]),
    ("Melanoma", &["melanoma"]),
    ("Thyroid Nodules", &["thyroid nodules"]),
    ("Acute Myeloid Leukemia", &["acute myeloid leukemia"]),
    ("Multiple Myeloma", &["multiple myeloma"]),
];

const PHARMACOGENOMICS: &[Subject] = &[
    ("Warfarin Dosing", &["atrial fibrillation"]),
    ("Clopidogrel Response", &["coronary artery disease"]),
    ("Antidepressant Selection", &["major depressive disorder"]),
    (
        "Thiopurine Therapy",
        &["Crohn disease", "ulcerative colitis"],
    ),
    ("Opioid Analgesics", &["chronic pain syndrome"]),
];

const IMAGING: &[Subject] = &[
    (
        "Positron Emission Tomography for Oncologic Indications",
        &["non-small cell lung cancer", "B-cell lymphoma", "melanoma"],
    ),
    (
        "Cardiac Computed Tomography Angiography",
        &["coronary artery disease"],
    ),
    (
        "Breast Magnetic Resonance Imaging",
        &["breast cancer", "hereditary cancer risk"],
    ),
    (
        "Wireless Capsule Endoscopy",
        &["obscure gastrointestinal bleeding", "Crohn disease"],
    ),
    ("Bone Mineral Density Testing", &["osteoporosis"]),
    ("Computed Tomographic Colonography", &["colorectal cancer"]),
    (
        "Fractional Flow Reserve Computed Tomography",
        &["coronary artery disease"],
    ),
    (
        "Coronary Artery Calcium Scoring",
        &["coronary artery disease"],
    ),
    ("Whole-Body Magnetic Resonance Imaging", &[]),
    ("Digital Breast Tomosynthesis", &["breast cancer"]),
    (
        "Functional Magnetic Resonance Imaging",
        &["primary brain tumors", "drug-resistant epilepsy"],
    ),
    ("Ultrasound Elastography of the Liver", &[]),
    (
        "Amyloid Positron Emission Tomography",
        &["Alzheimer disease"],
    ),
    (
        "Optical Coherence Tomography of the Anterior Segment",
        &["open-angle glaucoma"],
    ),
];

const DEVICES: &[Subject] = &[
    ("Power Wheelchairs and Scooters", &["mobility limitation"]),
    (
        "Continuous Glucose Monitoring",
        &["type 1 diabetes mellitus", "type 2 diabetes mellitus"],
    ),
    ("Insulin Pumps", &["type 1 diabetes mellitus"]),
    ("Pneumatic Compression Devices", &["lymphedema"]),
    (
        "Microprocessor-Controlled Lower Limb Prostheses",
        &["lower limb amputation"],
    ),
    ("Myoelectric Upper Limb Prostheses", &["upper limb absence"]),
    (
        "Transcutaneous Electrical Nerve Stimulation",
        &["chronic low back pain", "knee osteoarthritis"],
    ),
    (
        "Cranial Electrotherapy Stimulation",
        &["major depressive disorder", "fibromyalgia"],
    ),
    (
        "Home Oxygen Therapy",
        &["hypoxemia", "chronic obstructive pulmonary disease"],
    ),
    (
        "Wearable Cardioverter Defibrillators",
        &["sudden cardiac arrest risk"],
    ),
    ("Hearing Aids", &["sensorineural hearing loss"]),
    ("Tumor Treatment Fields Therapy", &["glioblastoma"]),
    (
        "Positive Airway Pressure Devices",
        &["obstructive sleep apnea"],
    ),
    (
        "Oral Appliances for Obstructive Sleep Apnea",
        &["obstructive sleep apnea"],
    ),
    ("Standing Frames", &["cerebral palsy"]),
    ("Cooling Devices Used in the Outpatient Setting", &[]),
    ("Electrical Bone Growth Stimulators", &["fracture nonunion"]),
    (
        "Negative Pressure Wound Therapy",
        &["chronic wounds", "diabetic foot ulcer"],
    ),
    (
        "Implantable Loop Recorders",
        &["syncope of unknown origin", "atrial fibrillation"],
    ),
    (
        "Remote Cardiac Monitoring",
        &["atrial fibrillation", "heart failure"],
    ),
    ("Bioimpedance Spectroscopy Devices", &["lymphedema"]),
    ("Knee Orthoses", &["knee osteoarthritis"]),
    (
        "Spinal Orthoses",
        &[
            "adolescent idiopathic scoliosis",
            "osteoporotic vertebral compression fracture",
        ],
    ),
    ("Custom Foot Orthotics", &["plantar fasciitis"]),
];

const THERAPIES: &[Subject] = &[
    (
        "Physical Therapy",
        &[
            "chronic low back pain",
            "knee osteoarthritis",
            "stroke rehabilitation",
        ],
    ),
    ("Applied Behavior Analysis", &["autism spectrum disorder"]),
    (
        "Cardiac Rehabilitation",
        &["heart failure", "coronary artery disease"],
    ),
    (
        "Pulmonary Rehabilitation",
        &["chronic obstructive pulmonary disease"],
    ),
    (
        "Cognitive Rehabilitation",
        &["traumatic brain injury", "stroke rehabilitation"],
    ),
    (
        "Transcranial Magnetic Stimulation",
        &["treatment-resistant depression"],
    ),
    (
        "Biofeedback",
        &[
            "urinary incontinence",
            "chronic migraine",
            "fecal incontinence",
        ],
    ),
    (
        "Acupuncture",
        &[
            "chronic low back pain",
            "chronic migraine",
            "knee osteoarthritis",
        ],
    ),
    (
        "Chiropractic Services",
        &["chronic low back pain", "neck pain"],
    ),
    ("Speech Therapy", &["speech and language disorders"]),
    ("Vision Therapy", &["convergence insufficiency"]),
    (
        "Occupational Therapy",
        &["stroke rehabilitation", "cerebral palsy"],
    ),
    (
        "Electroconvulsive Therapy",
        &["treatment-resistant depression"],
    ),
    ("Hippotherapy", &["cerebral palsy"]),
    ("Low-Level Laser Therapy", &["neck pain", "fibromyalgia"]),
    ("Manipulation Under Anesthesia", &["chronic low back pain"]),
    (
        "Interdisciplinary Pain Rehabilitation",
        &["chronic pain syndrome", "fibromyalgia"],
    ),
    (
        "Psychological and Neuropsychological Testing",
        &["ADHD", "traumatic brain injury"],
    ),
    ("Telehealth Services", &[]),
];

/// What a policy is about: its title, its topic, and the indications its
/// statements may be restricted to.
pub struct Outline {
    pub title: String,
    pub topic: Topic,
    /// Indications (positions in [`INDICATIONS`]) the subject is used for.
    pub indications: Vec<usize>,
    /// Whether the title names the (single) indication, as in "... for Knee Osteoarthritis".
    pub titled: bool,
}

/// A title in the style of published policies: a procedure, drug, device,
/// imaging or therapy name, sometimes narrowed to one of its indications, or
/// a testing policy for a condition.
pub fn outline(rng: &mut Rng) -> Outline {
    let topic = weighted(
        rng,
        &[
            (Topic::Procedure, 35),
            (Topic::Drug, 20),
            (Topic::GeneticTest, 15),
            (Topic::Imaging, 10),
            (Topic::Device, 12),
            (Topic::Therapy, 8),
        ],
    );
    let resolve =
        |names: &[&str]| -> Vec<usize> { names.iter().filter_map(|n| indication(n)).collect() };
    if topic == Topic::GeneticTest {
        let (prefix, (subject, names)) =
            match weighted(rng, &[(0u8, 60), (1, 15), (2, 15), (3, 10)]) {
                0 => ("Genetic Testing for", pick(rng, GENETIC_CONDITIONS)),
                1 => ("Gene Expression Profiling for", pick(rng, CANCERS)),
                2 => ("Somatic Biomarker Testing for", pick(rng, CANCERS)),
                _ => ("Pharmacogenomic Testing for", pick(rng, PHARMACOGENOMICS)),
            };
        return Outline {
            title: format!("{prefix} {subject}"),
            topic,
            indications: resolve(names),
            titled: false,
        };
    }
    let (base, names) = match topic {
        Topic::Procedure => pick(rng, PROCEDURES),
        Topic::Drug => pick(rng, DRUGS),
        Topic::Imaging => pick(rng, IMAGING),
        Topic::Device => pick(rng, DEVICES),
        _ => pick(rng, THERAPIES),
    };
    let indications = resolve(names);
    if !indications.is_empty() && chance(rng, 0.3) {
        let i = pick(rng, &indications);
        Outline {
            title: format!("{base} for {}", INDICATIONS[i].title),
            topic,
            indications: vec![i],
            titled: true,
        }
    } else {
        Outline {
            title: base.to_string(),
            topic,
            indications,
            titled: false,
        }
    }
}

/// The criteria medically-necessary statements list; `{ind}` is the indication.
const CRITERIA: &[&str] = &[
    "The patient has a confirmed diagnosis of {ind} documented by the treating physician",
    "Symptoms have persisted for at least 6 months despite conservative management",
    "Failure of, intolerance to, or contraindication to at least two conventional therapies",
    "The procedure is performed by a physician with appropriate training and credentials",
    "Documentation of functional impairment that interferes with activities of daily living",
    "There is no active infection at the treatment site",
    "The patient is at least 18 years of age",
    "Imaging studies confirm findings consistent with {ind}",
    "The patient has been evaluated by a multidisciplinary team",
    "The patient has no contraindication to the procedure or its anesthesia",
    "A diagnostic trial demonstrated at least 50% reduction in pain",
    "The patient is a nonsmoker or has abstained from smoking for at least 6 weeks",
    "Genetic counseling is provided before and after testing",
    "The result will directly change the clinical management of the patient",
    "At least 3 months of a structured physical therapy program have been completed",
    "The requesting provider is a specialist in the treatment of {ind}",
    "The patient is not pregnant and has no plans to become pregnant during treatment",
    "Baseline disease activity is documented using a validated scale",
];

/// `count` distinct criteria, with the indication filled in. Markup as in the
/// published documents is left to the statement text; criteria are plain.
pub fn criteria(rng: &mut Rng, count: usize, indication: &str) -> Vec<String> {
    dist::distinct(rng, CRITERIA.len(), count)
        .into_iter()
        .map(|i| CRITERIA[i].replace("{ind}", indication))
        .collect()
}

pub const DRUG_NAMES: &[&str] = &[
    "infliximab",
    "pembrolizumab",
    "nivolumab",
    "onabotulinumtoxinA",
    "aflibercept",
    "ranibizumab",
    "bevacizumab",
    "omalizumab",
    "ocrelizumab",
    "nusinersen",
    "eculizumab",
    "denosumab",
    "testosterone cypionate",
    "somatropin",
    "immune globulin (intravenous), non-lyophilized",
    "pegfilgrastim",
    "rituximab",
    "natalizumab",
    "vedolizumab",
    "ustekinumab",
    "mepolizumab",
    "teprotumumab-trbw",
    "romosozumab-aqqg",
    "leuprolide acetate",
    "iron sucrose",
    "ferric carboxymaltose",
    "epoetin alfa, for non-ESRD use",
    "hyaluronan or derivative, for intra-articular injection",
    "collagenase clostridium histolyticum",
    "ketorolac tromethamine",
    "alpha 1-proteinase inhibitor (human)",
    "trastuzumab",
];

pub const DOSES: &[&str] = &[
    "1 mg",
    "10 mg",
    "100 mg",
    "0.1 mg",
    "1 microgram",
    "10 units",
    "500 mg",
    "per dose",
    "per 10 ml",
    "2 mg",
];

pub const DME_ITEMS: &[&str] = &[
    "Power wheelchair, group 2 standard, captains chair, patient weight capacity up to and including 300 pounds",
    "Supply allowance for therapeutic continuous glucose monitor, includes all supplies and accessories",
    "External ambulatory infusion pump, insulin",
    "Pneumatic compressor, segmental home model with calibrated gradient pressure",
    "Transcutaneous electrical nerve stimulation (TENS) device, two lead, localized stimulation",
    "Oxygen concentrator, single delivery port, capable of delivering 85 percent or greater oxygen concentration",
    "Continuous positive airway pressure (CPAP) device",
    "Oral device/appliance used to reduce upper airway collapsibility, custom fabricated",
    "Standing frame/table system, one position, any size including pediatric",
    "Cold therapy device, pad and pump",
    "Osteogenesis stimulator, electrical, noninvasive, spinal applications",
    "Negative pressure wound therapy electrical pump, stationary or portable",
    "Hospital bed, semi-electric, with any type side rails, with mattress",
    "Walker, folding, wheeled, adjustable or fixed height",
    "Patient lift, hydraulic or mechanical, includes any seat, sling, strap(s) or pad(s)",
    "Seat lift mechanism incorporated into a combination lift-chair mechanism",
    "Tumor treatment field therapy, transducer arrays and supplies",
    "Wearable cardioverter-defibrillator, garment type",
    "Bone conduction hearing device, softband",
    "Manual wheelchair accessory, push-rim activated power assist system",
];

pub const ORTHOTICS: &[&str] = &[
    "Knee orthosis, single upright, thigh and calf, with adjustable flexion and extension joint, prefabricated",
    "Lumbar-sacral orthosis, sagittal control, with rigid anterior and posterior panels, custom fabricated",
    "Addition to lower extremity prosthesis, microprocessor control feature, swing and stance phase",
    "Electronic elbow, microprocessor sequential control of elbow and terminal device",
    "Foot, insert, removable, molded to patient model, longitudinal arch support",
    "Ankle-foot orthosis, plastic or other material, custom fabricated",
    "Cervical-thoracic-lumbar-sacral orthosis, anterior-posterior-lateral control",
    "Wrist hand finger orthosis, dynamic flexor hinge, reciprocal wrist extension/flexion",
    "Hip orthosis, abduction control of hip joints, flexible",
    "Thoracic-lumbar-sacral orthosis, triplanar control, modular segmented spinal system",
    "Below knee, molded socket, shin, SACH foot",
    "Addition to lower extremity, below knee, total contact socket",
];

pub const HCPCS_SERVICES: &[&str] = &[
    "Services performed by a qualified physical therapist in the home health setting, each 15 minutes",
    "Generator, neurostimulator (implantable), high frequency, with rechargeable battery and charging system",
    "Lead, neurostimulator (implantable)",
    "Skin substitute, per square centimeter",
    "Home infusion therapy, per diem",
    "Comprehensive genomic sequence analysis, hereditary cancer panel",
    "Behavioral health counseling and therapy, per 15 minutes",
    "Radiofrequency ablation, nerve, per session",
    "Intensive outpatient psychiatric services, per diem",
    "Remote physiologic monitoring, treatment management services, first 20 minutes",
    "Platelet rich plasma, autologous, per injection",
    "Catheter, transluminal angioplasty, drug-coated, non-laser",
    "Genetic testing for susceptibility to hereditary breast and ovarian cancer",
    "Cochlear device, includes all internal and external components",
    "Positron emission tomography radiopharmaceutical, diagnostic, per study dose",
    "Hyperbaric oxygen under pressure, full body chamber, per 30 minute interval",
    "Applied behavior analysis, per 15 minutes",
    "Implantable neurostimulator pulse generator, single array, rechargeable",
];

pub const SURGICAL_VERBS: &[&str] = &[
    "Arthrodesis",
    "Arthroscopy, surgical",
    "Excision",
    "Injection(s), diagnostic or therapeutic agent",
    "Implantation",
    "Revision or removal",
    "Repair",
    "Destruction by neurolytic agent",
    "Decompression",
    "Biopsy",
    "Laparoscopy, surgical",
    "Insertion or replacement",
];

pub const SURGICAL_SITES: &[&str] = &[
    "lumbar spine",
    "knee",
    "shoulder",
    "hip",
    "sacroiliac joint",
    "cervical spine",
    "peripheral nerve",
    "spinal neurostimulator electrode array",
    "stomach",
    "mitral valve",
    "aortic valve",
    "breast",
    "maxillary sinus",
    "eyelid",
    "paravertebral facet joint",
];

pub const SURGICAL_QUALIFIERS: &[&str] = &[
    "single level",
    "each additional level (list separately in addition to code for primary procedure)",
    "with imaging guidance (fluoroscopy or CT)",
    "unilateral",
    "bilateral",
    "open approach",
    "percutaneous approach",
    "including fluoroscopy, when performed",
];

pub const MODALITIES: &[&str] = &[
    "Magnetic resonance imaging",
    "Computed tomography",
    "Computed tomographic angiography",
    "Positron emission tomography (PET) imaging",
    "Ultrasound",
    "Dual-energy X-ray absorptiometry (DXA), bone density study",
    "Myocardial perfusion imaging",
];

pub const IMAGING_SITES: &[&str] = &[
    "breast",
    "heart",
    "chest",
    "abdomen and pelvis",
    "brain",
    "spinal canal and contents, lumbar",
    "skull base to mid-thigh",
    "coronary arteries",
    "liver",
    "axial skeleton",
];

pub const CONTRAST: &[&str] = &[
    "without contrast material",
    "with contrast material(s)",
    "without contrast material, followed by contrast material(s) and further sections",
    "limited area",
    "whole body",
    "with quantitative evaluation",
];

pub const GENES: &[&str] = &[
    "BRCA1, BRCA2 (BRCA1, DNA repair associated, BRCA2, DNA repair associated)",
    "MLH1 (mutL homolog 1)",
    "MSH2 (mutS homolog 2)",
    "CFTR (cystic fibrosis transmembrane conductance regulator)",
    "SMN1 (survival of motor neuron 1, telomeric)",
    "DMD (dystrophin)",
    "FMR1 (fragile X messenger ribonucleoprotein 1)",
    "HFE (homeostatic iron regulator)",
    "SERPINA1 (serpin family A member 1)",
    "MECP2 (methyl CpG binding protein 2)",
    "KCNQ1 (potassium voltage-gated channel subfamily Q member 1)",
    "LDLR (low density lipoprotein receptor)",
    "GJB2 (gap junction protein, beta 2)",
    "HTT (huntingtin)",
    "FBN1 (fibrillin 1)",
    "CYP2C19 (cytochrome P450, family 2, subfamily C, polypeptide 19)",
    "CYP2D6 (cytochrome P450, family 2, subfamily D, polypeptide 6)",
    "VKORC1 (vitamin K epoxide reductase complex, subunit 1)",
    "EGFR (epidermal growth factor receptor)",
    "KRAS (Kirsten rat sarcoma viral oncogene homolog)",
    "BRAF (B-Raf proto-oncogene, serine/threonine kinase)",
];

pub const GENE_SCOPES: &[&str] = &[
    "full sequence analysis",
    "known familial variant",
    "common variants",
    "duplication/deletion analysis",
    "targeted sequence analysis",
    "full gene sequence and full duplication/deletion analysis",
];

pub const ANALYTES: &[&str] = &[
    "Hemoglobin; glycosylated (A1C)",
    "Lipid panel",
    "Vitamin D; 25 hydroxy, includes fraction(s), if performed",
    "Thyroid stimulating hormone (TSH)",
    "Ferritin",
    "Testosterone; total",
    "Natriuretic peptide",
    "Calprotectin, fecal",
    "Drug assay, definitive, per day",
    "Complete blood count (CBC), automated",
    "Antibody; Lyme disease",
    "Cytopathology, cervical or vaginal, automated thin layer preparation",
];

pub const LAB_METHODS: &[&str] = &[
    "quantitative",
    "qualitative",
    "each specimen",
    "multiple analytes",
    "by immunoassay",
    "with interpretation and report",
];

pub const MEDICINE_SERVICES: &[&str] = &[
    "Therapeutic, prophylactic, or diagnostic injection (specify substance or drug); subcutaneous or intramuscular",
    "Intravenous infusion, for therapy, prophylaxis, or diagnosis (specify substance or drug); initial, up to 1 hour",
    "Therapeutic procedure, 1 or more areas, each 15 minutes; therapeutic exercises",
    "Physical therapy evaluation: moderate complexity",
    "Adaptive behavior treatment by protocol, administered by technician, each 15 minutes",
    "Therapeutic repetitive transcranial magnetic stimulation (TMS) treatment; subsequent delivery and management, per session",
    "Electroconvulsive therapy (includes necessary monitoring)",
    "Biofeedback training by any modality",
    "Acupuncture, 1 or more needles; without electrical stimulation, initial 15 minutes",
    "Chiropractic manipulative treatment (CMT); spinal, 3-4 regions",
    "Physician or other qualified health care professional services for outpatient cardiac rehabilitation; with continuous ECG monitoring",
    "Psychological testing evaluation services by physician or other qualified health care professional, first hour",
    "Evaluation of speech sound production",
    "Physician or other qualified health care professional attendance and supervision of hyperbaric oxygen therapy, per session",
    "Extracorporeal shock wave, musculoskeletal system, not otherwise specified",
    "Intravitreal injection of a pharmacologic agent (separate procedure)",
];

pub const EMERGING_TECHNOLOGY: &[&str] = &[
    "Implantation of a hypoglossal nerve neurostimulator array, pulse generator, and distal respiratory sensor",
    "Percutaneous sacral augmentation (sacroplasty), unilateral injection(s), including the use of a balloon or mechanical device",
    "Transcatheter implantation of wireless pulmonary artery pressure sensor for long-term hemodynamic monitoring",
    "Remote monitoring of an implantable wireless pulmonary artery pressure sensor",
    "Computer-aided detection (CAD) of cancer, including computer algorithm analysis of images",
    "Insertion of interlaminar/interspinous process stabilization/distraction device, without open decompression or fusion",
    "Anterior segment imaging with interpretation and report; with specular microscopy and endothelial cell analysis",
    "Focused ultrasound ablation of uterine leiomyomata, including MR guidance",
    "Epithelium-on corneal collagen cross-linking, including removal of the corneal epithelium when performed",
    "Quantitative magnetic resonance for analysis of tissue composition, without diagnostic MRI",
    "Esophagogastroduodenoscopy, flexible, transoral, with volume adjustment of intragastric bariatric balloon",
    "Transperineal laser ablation of benign prostatic hyperplasia, including imaging guidance",
    "Percutaneous implantation of a peripheral nerve neurostimulator electrode array with integrated neurostimulator",
];

pub const PERFORMANCE_MEASURES: &[&str] = &[
    "Most recent hemoglobin A1c (HbA1c) level less than 7.0%",
    "Pain severity quantified; pain present",
    "Functional outcome assessment documented as positive using a standardized tool",
    "Positive screen for depression documented",
    "Documentation of medical reason(s) for not prescribing the recommended therapy",
    "Tobacco use assessed",
    "Body mass index (BMI) documented within normal parameters",
];

pub const ROOT_OPERATIONS: &[&str] = &[
    "Excision of",
    "Resection of",
    "Replacement of",
    "Supplement of",
    "Fusion of",
    "Insertion of stimulator lead into",
    "Destruction of",
    "Repair of",
    "Bypass of",
    "Dilation of",
    "Release of",
    "Reposition of",
];

pub const BODY_PARTS: &[&str] = &[
    "lumbar vertebral joint",
    "right knee joint",
    "left hip joint",
    "aortic valve",
    "mitral valve",
    "stomach",
    "spinal cord",
    "thoracic vertebral joint",
    "right sacroiliac joint",
    "cerebral hemisphere",
    "cervical vertebral joint",
    "right upper lung lobe",
    "liver",
    "pancreas",
];

// ---- Policy prose ----

pub const GOALS: &[&str] = &[
    "relieve chronic pain",
    "restore joint function",
    "promote repair of damaged tissue",
    "reduce symptoms and improve quality of life",
    "treat the underlying structural abnormality",
    "avoid or delay more invasive surgery",
    "improve survival and reduce morbidity",
];

pub const SETTINGS: &[&str] = &[
    "an outpatient setting",
    "an ambulatory surgical center",
    "an inpatient hospital setting",
    "a physician's office",
];

pub const EVIDENCE: &[&str] = &[
    "small, randomized trials with inconsistent results",
    "randomized controlled trials and systematic reviews",
    "case series and observational studies",
    "a single randomized controlled trial and several nonrandomized comparative studies",
    "prospective cohort studies and registry data",
];

pub const OUTCOMES: &[&str] = &[
    "symptoms, functional outcomes, and quality of life",
    "overall survival, disease-specific survival, and treatment-related morbidity",
    "test validity, changes in reproductive decision making, and other performance measures",
    "change in disease status, medication use, and hospitalizations",
    "symptoms, morbid events, and resource utilization",
];

pub const CONCLUSIONS: &[&str] = &[
    "The evidence is insufficient to determine that the technology results in an improvement in the net health outcome.",
    "The evidence is sufficient to determine that the technology results in an improvement in the net health outcome.",
    "The clinical significance of the reported results is uncertain, and further trials are needed.",
];

pub const SPECIALTIES: &[&str] = &[
    "Orthopedics, Rehabilitation and Rheumatology",
    "Cardiology",
    "Neurology",
    "Hematology and Oncology",
    "Medicine and Surgery",
    "Genetics",
    "Pharmacy and Therapeutics",
    "Radiology",
    "Behavioral Health",
];

pub const REVIEW_ACTIONS: &[&str] = &[
    "Annual policy review. No changes to policy statements.",
    "Annual policy review. References updated. Policy statements unchanged.",
    "Annual policy review. Description, summary, and references updated. Policy statements unchanged.",
    "New references added from Annual policy review.",
    "New references added from Annual policy review. Added coding language.",
    "Coding information clarified.",
    "Policy statement clarified; intent of the policy unchanged.",
    "Annual policy review. Policy statement revised to add criteria for medical necessity.",
    "Annual policy review. Investigational statement added for additional indications.",
    "Prior authorization information updated.",
    "Codes added to the coding section; effective for dates of service on or after the date above.",
];

// ---- References ----

pub const SURNAMES: &[&str] = &[
    "Dagenais",
    "Yelland",
    "Chou",
    "Klein",
    "Rabago",
    "Reeves",
    "Kim",
    "Lee",
    "Chen",
    "Wang",
    "Zhang",
    "Smith",
    "Johnson",
    "Patel",
    "Nguyen",
    "Garcia",
    "Martinez",
    "Brown",
    "Müller",
    "Rossi",
    "Tanaka",
    "Suzuki",
    "Kowalski",
    "Andersson",
    "Haldeman",
    "Atlas",
    "Bogduk",
    "Hochberg",
    "Kolasinski",
    "Neogi",
    "Schneider",
    "Carpenter",
    "Bayat",
    "Ahadi",
    "Fong",
    "Zhu",
    "Goh",
    "Chung",
    "Wee",
    "Sert",
    "Cortez",
    "Waluyo",
    "O'Brien",
    "Fischer",
    "Dubois",
    "Moreau",
    "Silva",
    "Santos",
    "Cohen",
    "Levy",
    "Friedman",
    "Nakamura",
    "Park",
    "Choi",
    "Singh",
    "Gupta",
    "Ahmed",
    "Hassan",
    "Okafor",
    "Mensah",
];

pub const JOURNALS: &[&str] = &[
    "Cochrane Database Syst Rev",
    "Spine J",
    "Spine (Phila Pa 1976)",
    "N Engl J Med",
    "JAMA",
    "Lancet",
    "BMJ",
    "Ann Intern Med",
    "J Clin Oncol",
    "Circulation",
    "J Am Coll Cardiol",
    "Neurology",
    "Pain Med",
    "Arch Phys Med Rehabil",
    "Am J Sports Med",
    "J Bone Joint Surg Am",
    "Genet Med",
    "Radiology",
    "Ophthalmology",
    "Gastroenterology",
    "Arthritis Rheumatol",
    "Obes Surg",
    "Health Technol Assess",
    "PLoS One",
    "Clin J Sport Med",
    "J Altern Complement Med",
];

pub const STUDY_TITLES: &[&str] = &[
    "{t} for {ind}: a systematic review and meta-analysis",
    "A randomized controlled trial of {t} versus {cmp} for {ind}",
    "Long-term outcomes of {t} in patients with {ind}",
    "Cost-effectiveness of {t}: a decision analysis",
    "Safety and efficacy of {t}: results of a multicenter registry",
    "Comparative effectiveness of {t} and {cmp} in {ind}",
    "{t} in {ind}: five-year follow-up of a prospective cohort",
    "Evidence-informed management of {ind} with {t}",
];

/// Study titles for subjects without a specific indication.
pub const GENERAL_STUDY_TITLES: &[&str] = &[
    "{t}: a systematic review and meta-analysis",
    "A randomized controlled trial of {t} versus {cmp}",
    "Long-term outcomes of {t}: a prospective cohort study",
    "Cost-effectiveness of {t}: a decision analysis",
    "Safety and efficacy of {t}: results of a multicenter registry",
    "Clinical utility of {t}: an evidence review",
];

pub const COMPARATORS: &[&str] = &[
    "placebo",
    "usual care",
    "sham procedure",
    "corticosteroid injection",
    "physical therapy",
    "standard therapy",
];

pub const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Authors as printed: three surnames with initials and "et al.", or fewer.
pub fn authors(rng: &mut Rng) -> String {
    let n = weighted(rng, &[(1usize, 10), (2, 20), (3, 70)]);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(pick(rng, SURNAMES));
        out.push(' ');
        out.push(rng.uppercase());
        if chance(rng, 0.6) {
            out.push(rng.uppercase());
        }
    }
    if n == 3 {
        out.push_str(", et al.");
    }
    out
}

/// Web references: the organisations behind guidelines and coverage
/// determinations, with a title template and a URL template (`{n}` a number).
pub const WEB_SOURCES: &[(&str, &str, &str)] = &[
    (
        "National Comprehensive Cancer Network",
        "NCCN Clinical Practice Guidelines in Oncology: {ind}",
        "https://www.nccn.org/guidelines/guidelines-detail?category=1&id={n}",
    ),
    (
        "National Institute for Health and Care Excellence",
        "{t}: interventional procedures guidance",
        "https://www.nice.org.uk/guidance/ipg{n}",
    ),
    (
        "U.S. Food and Drug Administration",
        "Summary of Safety and Effectiveness Data: {t}",
        "https://www.accessdata.fda.gov/cdrh_docs/pdf{n}/P{n}B.pdf",
    ),
    (
        "American College of Radiology",
        "ACR Appropriateness Criteria: {ind}",
        "https://acsearch.acr.org/docs/{n}/Narrative/",
    ),
    (
        "North American Spine Society",
        "Coverage Policy Recommendations: {t}",
        "https://www.spine.org/coverage/{n}",
    ),
];

pub const CMS_SOURCE: (&str, &str, &str) = (
    "Centers for Medicare and Medicaid Services",
    "National Coverage Determination (NCD) for {t} ({ncd})",
    "https://www.cms.gov/medicare-coverage-database/details/ncd-details.aspx?NCDId={n}&ncdver=1",
);

#[cfg(test)]
mod tests {
    use medpol_core::{Code, CodeSystem};

    use super::*;

    #[test]
    fn subjects_name_known_indications() {
        for table in [
            PROCEDURES,
            DRUGS,
            GENETIC_CONDITIONS,
            CANCERS,
            PHARMACOGENOMICS,
            IMAGING,
            DEVICES,
            THERAPIES,
        ] {
            for (subject, names) in table {
                for name in *names {
                    assert!(indication(name).is_some(), "{subject}: {name}");
                }
            }
        }
        let mut names: Vec<&str> = INDICATIONS.iter().map(|i| i.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            INDICATIONS.len(),
            "indication names are unique"
        );
    }

    #[test]
    fn indication_diagnoses_are_canonical_icd10cm() {
        for ind in INDICATIONS {
            assert!(!ind.diagnoses.is_empty());
            for d in ind.diagnoses {
                let code =
                    Code::parse(CodeSystem::Icd10cm, d).unwrap_or_else(|e| panic!("{d}: {e}"));
                assert_eq!(code.as_str(), *d);
            }
        }
    }
}
