//! The demo world's data: its hubs, and a catalog of forty relief and warehouse goods with
//! their colours and conditions.

pub(super) struct HubSpec {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) kind: &'static str,
    pub(super) agency: bool,
}

pub(super) const HUBS: [HubSpec; 4] = [
    HubSpec {
        code: "KIN-MAIN",
        name: "Kingston Main Warehouse",
        kind: "main",
        agency: false,
    },
    HubSpec {
        code: "MBJ-SUB",
        name: "Montego Bay Sub-Hub",
        kind: "sub",
        agency: false,
    },
    HubSpec {
        code: "MAN-SUB",
        name: "Mandeville Sub-Hub",
        kind: "sub",
        agency: false,
    },
    HubSpec {
        code: "HRA-PORT",
        name: "Harbour Relief Agency — Port Antonio Hub",
        kind: "agency",
        agency: true,
    },
];

/// (product id, base name, identity types, unit, price in cents)
pub(super) const FAMILIES: [(i32, &str, &str, &str, i64); 40] = [
    (101, "Bottled Water 1.5 L (case of 12)", "PB", "case", 1_450),
    (
        102,
        "Water Purification Tablets (strip of 50)",
        "P",
        "strip",
        850,
    ),
    (103, "Collapsible Water Jerrycan 10 L", "PK", "each", 1_200),
    (110, "Family Food Parcel", "PK", "parcel", 6_500),
    (111, "Rice 5 kg Bag", "P", "bag", 1_100),
    (
        112,
        "Canned Mackerel 425 g (case of 24)",
        "P",
        "case",
        4_800,
    ),
    (113, "High-Energy Biscuits (carton)", "P", "carton", 3_200),
    (114, "Infant Formula 400 g", "P", "tin", 1_650),
    (120, "Hygiene Kit (family)", "PK", "kit", 2_800),
    (121, "Sanitary Pads (pack of 20)", "P", "pack", 450),
    (122, "Adult Diapers (pack of 10)", "P", "pack", 1_300),
    (123, "Soap Bar 100 g (box of 48)", "P", "box", 2_400),
    (130, "Tarpaulin 4 × 6 m", "PH", "each", 1_900),
    (131, "Family Tent 16 m²", "P", "each", 24_000),
    (132, "Emergency Blanket", "PT", "each", 350),
    (133, "Sleeping Mat", "P", "each", 900),
    (134, "Mosquito Net (LLIN)", "P", "each", 700),
    (140, "Solar Lantern", "EP", "each", 2_500),
    (141, "Hand-Crank Radio", "E", "each", 3_100),
    (142, "Power Bank 20,000 mAh", "E", "each", 2_900),
    (143, "Portable Generator 3 kW", "E", "each", 65_000),
    (144, "LED Flashlight", "E", "each", 600),
    (150, "First Aid Kit (workplace)", "PK", "kit", 3_500),
    (
        151,
        "Oral Rehydration Salts (box of 100)",
        "P",
        "box",
        1_800,
    ),
    (152, "Nitrile Gloves (box of 100)", "P", "box", 950),
    (153, "N95 Respirator (box of 20)", "P", "box", 2_200),
    (160, "Kitchen Set (family)", "PK", "set", 3_900),
    (161, "Cooking Stove, Single Burner", "E", "each", 4_200),
    (162, "Chlorine Granules 1 kg", "P", "tub", 1_500),
    (170, "Shovel, Round Point", "T", "each", 1_400),
    (171, "Chainsaw 18\"", "ET", "each", 32_000),
    (172, "Work Gloves (pair)", "P", "pair", 400),
    (173, "Hard Hat", "P", "each", 850),
    (174, "Rope 30 m", "P", "coil", 1_600),
    (180, "School Kit", "PK", "kit", 1_750),
    (181, "Recreation Kit", "K", "kit", 5_400),
    (190, "Bose 201 Series Speaker", "P", "each", 15_000),
    (191, "Two-Way Radio (pair)", "E", "pair", 12_000),
    (192, "Satellite Phone", "E", "each", 89_000),
    (193, "Rugged Tablet", "E", "each", 42_000),
];

pub(super) const COLORS: [&str; 4] = ["NA", "BK", "WH", "BL"];
pub(super) const CONDITIONS: [&str; 3] = ["N", "R", "U"];
