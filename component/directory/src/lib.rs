//! The insurer's policyholders and contracts, behind the component's
//! `directory` import: who may enroll (本人確認), and what can be renewed.
//!
//! One implementation for every host of the component: the wasmtime host
//! loads the directory from a JSON file the operator provides
//! ([`FileDirectory::load`]) and matches in memory; the Spin adapter seeds
//! its SQLite tables from [`SAMPLE`] through the same validation
//! ([`FileDirectory::from_json`], [`FileDirectory::policyholders`]) and
//! matches with the same rules ([`PolicyholderRecord::matches`]).
//! [`SAMPLE`] ships four fictional policyholders for local runs.
//!
//! The file holds values already normalised the way the
//! component normalises what customers type (names NFKC without spaces, kana
//! in full-width katakana, ASCII digits, policy numbers upper-case without
//! hyphens), so matching is plain equality. Loading checks that, so a
//! mistyped file fails at start-up with the record and field named, instead
//! of silently never matching anyone.
//!
//! ```json
//! {"policyholders": [{
//!   "customer_id": "C0000001",
//!   "family_name": "山田", "given_name": "太郎",
//!   "family_name_kana": "ヤマダ", "given_name_kana": "タロウ",
//!   "birth_date": "1985-04-01", "phone": "09012345678", "postal_code": "1000004",
//!   "contracts": [{"policy_number": "A123456789", "product": "自動車保険",
//!                  "subject": "品川 300 さ 12-34", "expiry_date": "2027-01-31",
//!                  "renewable": true}]
//! }]}
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::collections::hash_map;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The sample directory shipped for local runs: four fictional policyholders.
pub const SAMPLE: &str = include_str!("../sample/directory.json");

/// A calendar date without time zone, as the insurer's records hold it.
///
/// Always a real date (month 1–12, a day that month has). Written and read
/// as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, 1 to 9999.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
}

impl Date {
    /// The date with these parts, if it exists in the Gregorian calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=9999).contains(&year) && (1..=days_in_month).contains(&day)).then_some(Self {
            year,
            month,
            day,
        })
    }
}

/// A date that is not `YYYY-MM-DD` or does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid date (expected YYYY-MM-DD)")]
pub struct InvalidDate(pub String);

impl FromStr for Date {
    type Err = InvalidDate;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidDate(text.to_owned());
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
        if !shape_ok {
            return Err(invalid());
        }
        // The shape check guarantees ASCII digits, so these slices are on
        // character boundaries and parse.
        let year = text[0..4].parse().map_err(|_| invalid())?;
        let month = text[5..7].parse().map_err(|_| invalid())?;
        let day = text[8..10].parse().map_err(|_| invalid())?;
        Date::new(year, month, day).ok_or_else(invalid)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Identity fields as the component normalised them, for 本人確認.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityQuery {
    /// Family name, NFKC-normalised, spaces removed.
    pub family_name: String,
    /// Given name, NFKC-normalised, spaces removed.
    pub given_name: String,
    /// Family name in full-width katakana.
    pub family_name_kana: String,
    /// Given name in full-width katakana.
    pub given_name_kana: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Telephone number, ASCII digits only.
    pub phone: String,
    /// Postal code, seven ASCII digits.
    pub postal_code: String,
    /// Policy number (証券番号), upper-case ASCII, no hyphens.
    pub policy_number: String,
}

/// A policyholder the directory knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policyholder {
    /// The insurer's customer number; stable, not shown to customers.
    pub customer_id: String,
    /// Display name: family and given name separated by an ideographic
    /// space, e.g. 「山田　太郎」.
    pub display_name: String,
}

/// One contract of a policyholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// Policy number (証券番号).
    pub policy_number: String,
    /// Product name, e.g. 「自動車保険」.
    pub product: String,
    /// What is insured, e.g. a vehicle's registration.
    pub subject: String,
    /// Last day of cover.
    pub expiry_date: Date,
    /// Whether the contract can be renewed online now.
    pub renewable: bool,
}

/// A directory fault.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory cannot be reached or failed.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

/// The insurer's records of policyholders and their contracts; read-only.
pub trait Directory: Send + Sync + 'static {
    /// The policyholder whose records match every identity field and who
    /// holds the contract `identity.policy_number`; a partial match is
    /// `None`.
    fn find_policyholder(&self, identity: &IdentityQuery) -> Result<Option<Policyholder>, DirectoryError>;

    /// The contracts of a policyholder, in the insurer's order; none for an
    /// unknown customer id.
    fn list_contracts(&self, customer_id: &str) -> Result<Vec<Contract>, DirectoryError>;
}

/// A [`Directory`] loaded once from a JSON file and held in memory.
#[derive(Debug, Clone)]
pub struct FileDirectory {
    holders: Vec<PolicyholderRecord>,
    by_customer_id: HashMap<String, usize>,
    /// Policy numbers are unique across the file, so one identifies its
    /// holder.
    by_policy_number: HashMap<String, usize>,
}

/// One policyholder with every identity field and their contracts, as
/// validated from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyholderRecord {
    /// The insurer's customer number; unique in the directory.
    pub customer_id: String,
    /// Family name, NFKC-normalised, without spaces.
    pub family_name: String,
    /// Given name, NFKC-normalised, without spaces.
    pub given_name: String,
    /// Family name in full-width katakana.
    pub family_name_kana: String,
    /// Given name in full-width katakana.
    pub given_name_kana: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Telephone number, ASCII digits only.
    pub phone: String,
    /// Postal code, seven ASCII digits.
    pub postal_code: String,
    /// The policyholder's contracts, in the insurer's order. Every policy
    /// number is unique across the directory.
    pub contracts: Vec<Contract>,
}

impl PolicyholderRecord {
    /// The name shown to the customer: family and given name separated by
    /// an ideographic space, e.g. 「山田　太郎」.
    pub fn display_name(&self) -> String {
        format!("{}\u{3000}{}", self.family_name, self.given_name)
    }

    /// Whether `identity` is this policyholder: every identity field equal
    /// (plain equality on normalised values) and `identity.policy_number`
    /// one of their contracts.
    pub fn matches(&self, identity: &IdentityQuery) -> bool {
        self.family_name == identity.family_name
            && self.given_name == identity.given_name
            && self.family_name_kana == identity.family_name_kana
            && self.given_name_kana == identity.given_name_kana
            && self.birth_date == identity.birth_date
            && self.phone == identity.phone
            && self.postal_code == identity.postal_code
            && self
                .contracts
                .iter()
                .any(|contract| contract.policy_number == identity.policy_number)
    }

    /// The policyholder as the directory answers a match.
    pub fn policyholder(&self) -> Policyholder {
        Policyholder {
            customer_id: self.customer_id.clone(),
            display_name: self.display_name(),
        }
    }
}

/// The file's shape. Dates stay text here, so that a bad one is reported
/// with the policyholder and field it belongs to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    policyholders: Vec<HolderShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolderShape {
    customer_id: String,
    family_name: String,
    given_name: String,
    family_name_kana: String,
    given_name_kana: String,
    birth_date: String,
    phone: String,
    postal_code: String,
    contracts: Vec<ContractShape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractShape {
    policy_number: String,
    product: String,
    subject: String,
    expiry_date: String,
    renewable: bool,
}

impl FileDirectory {
    /// Loads and validates the directory file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the directory file {}", path.display()))?;
        Self::from_json(&text).with_context(|| format!("loading the directory file {}", path.display()))
    }

    /// Parses and validates a directory from JSON text.
    pub fn from_json(text: &str) -> anyhow::Result<Self> {
        let file: FileShape =
            serde_json::from_str(text).context("the directory is not valid directory JSON")?;
        let mut directory = Self {
            holders: Vec::with_capacity(file.policyholders.len()),
            by_customer_id: HashMap::new(),
            by_policy_number: HashMap::new(),
        };
        for (index, shape) in file.policyholders.into_iter().enumerate() {
            let place = format!("policyholders[{index}] (customer_id {:?})", shape.customer_id);
            let holder = validate_holder(shape).with_context(|| place.clone())?;
            directory.add(holder).with_context(|| place)?;
        }
        Ok(directory)
    }

    /// How many policyholders the directory holds.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    /// Whether the directory holds nobody.
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }

    /// Every policyholder, in the file's order.
    pub fn policyholders(&self) -> &[PolicyholderRecord] {
        &self.holders
    }

    /// The sample directory ([`SAMPLE`]), for local runs.
    pub fn sample() -> Self {
        // SAMPLE is compiled in and a unit test loads it, so this cannot
        // fail in a build that passed its tests.
        Self::from_json(SAMPLE).expect("the bundled sample directory is valid")
    }

    fn add(&mut self, holder: PolicyholderRecord) -> anyhow::Result<()> {
        let index = self.holders.len();
        match self.by_customer_id.entry(holder.customer_id.clone()) {
            hash_map::Entry::Occupied(_) => {
                bail!("customer_id {:?} appears more than once", holder.customer_id)
            }
            hash_map::Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
        for (position, contract) in holder.contracts.iter().enumerate() {
            match self.by_policy_number.entry(contract.policy_number.clone()) {
                hash_map::Entry::Occupied(other) => {
                    let owner = self
                        .holders
                        .get(*other.get())
                        .map_or(holder.customer_id.as_str(), |other| other.customer_id.as_str());
                    bail!(
                        "contracts[{position}]: policy_number {:?} appears more than once \
                         (already a contract of customer_id {owner:?})",
                        contract.policy_number
                    );
                }
                hash_map::Entry::Vacant(slot) => {
                    slot.insert(index);
                }
            }
        }
        self.holders.push(holder);
        Ok(())
    }
}

fn validate_holder(shape: HolderShape) -> anyhow::Result<PolicyholderRecord> {
    check_customer_id(&shape.customer_id).context("customer_id")?;
    for (field, value) in [
        ("family_name", &shape.family_name),
        ("given_name", &shape.given_name),
    ] {
        check_name(value).with_context(|| format!("{field} {value:?}"))?;
    }
    for (field, value) in [
        ("family_name_kana", &shape.family_name_kana),
        ("given_name_kana", &shape.given_name_kana),
    ] {
        check_kana(value).with_context(|| format!("{field} {value:?}"))?;
    }
    let birth_date: Date = shape.birth_date.parse().context("birth_date")?;
    check_phone(&shape.phone).with_context(|| format!("phone {:?}", shape.phone))?;
    check_postal_code(&shape.postal_code).with_context(|| format!("postal_code {:?}", shape.postal_code))?;
    let contracts = shape
        .contracts
        .into_iter()
        .enumerate()
        .map(|(position, contract)| {
            let place = format!(
                "contracts[{position}] (policy_number {:?})",
                contract.policy_number
            );
            validate_contract(contract).with_context(|| place)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(PolicyholderRecord {
        customer_id: shape.customer_id,
        family_name: shape.family_name,
        given_name: shape.given_name,
        family_name_kana: shape.family_name_kana,
        given_name_kana: shape.given_name_kana,
        birth_date,
        phone: shape.phone,
        postal_code: shape.postal_code,
        contracts,
    })
}

fn validate_contract(shape: ContractShape) -> anyhow::Result<Contract> {
    check_policy_number(&shape.policy_number).context("policy_number")?;
    if shape.product.trim().is_empty() {
        bail!("product is empty");
    }
    if shape.subject.trim().is_empty() {
        bail!("subject is empty");
    }
    let expiry_date: Date = shape.expiry_date.parse().context("expiry_date")?;
    Ok(Contract {
        policy_number: shape.policy_number,
        product: shape.product,
        subject: shape.subject,
        expiry_date,
        renewable: shape.renewable,
    })
}

fn check_customer_id(value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("is empty");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{value:?} contains a space or control character");
    }
    Ok(())
}

/// A name as the component leaves it after NFKC and removing spaces.
///
/// The checks cover what NFKC changes in Japanese names as people type
/// them: full-width ASCII, half-width katakana and detached voiced sound
/// marks. The component's normaliser is the authority; this catches the
/// usual hand-typing mistakes in the operator's file.
fn check_name(value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("is empty");
    }
    for c in value.chars() {
        if c.is_whitespace() {
            bail!("contains a space (names are stored without spaces)");
        }
        if c.is_control() {
            bail!("contains a control character");
        }
        if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
            bail!("contains the full-width character {c:?} (store its NFKC form, ASCII)");
        }
        if ('\u{FF61}'..='\u{FF9F}').contains(&c) {
            bail!("contains the half-width katakana {c:?} (store its NFKC form, full-width)");
        }
        if ('\u{3099}'..='\u{309C}').contains(&c) {
            bail!("contains a detached voiced sound mark {c:?} (store the composed kana)");
        }
    }
    Ok(())
}

/// Full-width katakana only (ァ to ヾ, with ー and ・), no spaces.
fn check_kana(value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("is empty");
    }
    if let Some(c) = value.chars().find(|c| !('\u{30A1}'..='\u{30FE}').contains(c)) {
        bail!("contains {c:?}, which is not full-width katakana");
    }
    Ok(())
}

/// A Japanese telephone number: 10 or 11 ASCII digits starting with 0.
fn check_phone(value: &str) -> anyhow::Result<()> {
    let digits_only = value.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || !(10..=11).contains(&value.len()) || !value.starts_with('0') {
        bail!("is not 10 or 11 ASCII digits starting with 0 (no hyphens)");
    }
    Ok(())
}

fn check_postal_code(value: &str) -> anyhow::Result<()> {
    if value.len() != 7 || !value.bytes().all(|b| b.is_ascii_digit()) {
        bail!("is not seven ASCII digits (no hyphen)");
    }
    Ok(())
}

fn check_policy_number(value: &str) -> anyhow::Result<()> {
    if value.is_empty() {
        bail!("is empty");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        bail!("{value:?} is not upper-case ASCII letters and digits (no hyphens)");
    }
    Ok(())
}

impl Directory for FileDirectory {
    fn find_policyholder(&self, identity: &IdentityQuery) -> Result<Option<Policyholder>, DirectoryError> {
        let Some(holder) = self
            .by_policy_number
            .get(&identity.policy_number)
            .and_then(|&index| self.holders.get(index))
        else {
            return Ok(None);
        };
        Ok(holder.matches(identity).then(|| holder.policyholder()))
    }

    fn list_contracts(&self, customer_id: &str) -> Result<Vec<Contract>, DirectoryError> {
        Ok(self
            .by_customer_id
            .get(customer_id)
            .and_then(|&index| self.holders.get(index))
            .map(|holder| holder.contracts.clone())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yamada() -> IdentityQuery {
        IdentityQuery {
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_name_kana: "ヤマダ".into(),
            given_name_kana: "タロウ".into(),
            birth_date: Date::new(1985, 4, 1).unwrap(),
            phone: "09012345678".into(),
            postal_code: "1000004".into(),
            policy_number: "A123456789".into(),
        }
    }

    /// A one-policyholder file with `field` of the policyholder replaced.
    fn with_field(field: &str, value: serde_json::Value) -> String {
        let mut file: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        file["policyholders"] = serde_json::json!([file["policyholders"][0].clone()]);
        file["policyholders"][0][field] = value;
        file.to_string()
    }

    fn error_text(text: &str) -> String {
        format!("{:#}", FileDirectory::from_json(text).unwrap_err())
    }

    #[test]
    fn the_sample_loads_with_four_policyholders() {
        let directory = FileDirectory::sample();
        assert_eq!(directory.holders.len(), 4);
        for holder in &directory.holders {
            assert!((1..=3).contains(&holder.contracts.len()));
            for contract in &holder.contracts {
                assert!((2026..=2027).contains(&contract.expiry_date.year));
            }
        }
        let sato = directory.list_contracts("C0000002").unwrap();
        assert_eq!(
            sato.iter().map(|c| c.renewable).collect::<Vec<_>>(),
            vec![true, false],
            "佐藤 花子 has one renewable contract and one not"
        );
    }

    #[test]
    fn an_exact_match_is_found() {
        let directory = FileDirectory::sample();
        assert_eq!(
            directory.find_policyholder(&yamada()).unwrap(),
            Some(Policyholder {
                customer_id: "C0000001".into(),
                display_name: "山田\u{3000}太郎".into(),
            })
        );
        // Any of a policyholder's contracts identifies them.
        let takahashi = IdentityQuery {
            family_name: "高橋".into(),
            given_name: "美咲".into(),
            family_name_kana: "タカハシ".into(),
            given_name_kana: "ミサキ".into(),
            birth_date: "2000-02-29".parse().unwrap(),
            phone: "07011112222".into(),
            postal_code: "0600001".into(),
            policy_number: "H890123456".into(),
        };
        let found = directory.find_policyholder(&takahashi).unwrap().unwrap();
        assert_eq!(found.customer_id, "C0000004");
        assert_eq!(found.display_name, "高橋　美咲");
    }

    #[test]
    fn any_single_wrong_field_is_no_match() {
        let directory = FileDirectory::sample();
        type Mutation = (&'static str, fn(&mut IdentityQuery));
        let mutations: [Mutation; 8] = [
            ("family_name", |q| q.family_name = "山本".into()),
            ("given_name", |q| q.given_name = "次郎".into()),
            ("family_name_kana", |q| q.family_name_kana = "ヤマモト".into()),
            ("given_name_kana", |q| q.given_name_kana = "タロオ".into()),
            ("birth_date", |q| q.birth_date = Date::new(1985, 4, 2).unwrap()),
            ("phone", |q| q.phone = "09012345679".into()),
            ("postal_code", |q| q.postal_code = "1000005".into()),
            ("policy_number", |q| q.policy_number = "A123456780".into()),
        ];
        for (field, mutate) in mutations {
            let mut query = yamada();
            mutate(&mut query);
            assert_eq!(
                directory.find_policyholder(&query).unwrap(),
                None,
                "a wrong {field} must not match"
            );
        }
        // Unnormalised input does not match either: matching is exact.
        let mut spaced = yamada();
        spaced.family_name = "山田 ".into();
        assert_eq!(directory.find_policyholder(&spaced).unwrap(), None);
    }

    #[test]
    fn another_customers_policy_is_no_match() {
        let directory = FileDirectory::sample();
        let mut query = yamada();
        query.policy_number = "B234567890".into(); // 佐藤 花子's contract
        assert_eq!(directory.find_policyholder(&query).unwrap(), None);
        query.policy_number = String::new();
        assert_eq!(directory.find_policyholder(&query).unwrap(), None);
    }

    #[test]
    fn policyholders_are_listed_in_file_order_and_match_only_themselves() {
        let directory = FileDirectory::sample();
        let ids: Vec<&str> = directory
            .policyholders()
            .iter()
            .map(|holder| holder.customer_id.as_str())
            .collect();
        assert_eq!(ids, ["C0000001", "C0000002", "C0000003", "C0000004"]);
        let yamada = &directory.policyholders()[0];
        assert_eq!(yamada.display_name(), "山田\u{3000}太郎");
        assert_eq!(
            yamada.policyholder(),
            directory.find_policyholder(&self::yamada()).unwrap().unwrap()
        );
        assert!(yamada.matches(&self::yamada()));
        for other in &directory.policyholders()[1..] {
            assert!(!other.matches(&self::yamada()));
        }
    }

    #[test]
    fn contracts_are_listed_in_file_order() {
        let directory = FileDirectory::sample();
        let contracts = directory.list_contracts("C0000004").unwrap();
        assert_eq!(
            contracts
                .iter()
                .map(|c| c.policy_number.as_str())
                .collect::<Vec<_>>(),
            vec!["F678901234", "G789012345", "H890123456"]
        );
        let yamada = directory.list_contracts("C0000001").unwrap();
        assert_eq!(
            yamada,
            vec![Contract {
                policy_number: "A123456789".into(),
                product: "自動車保険".into(),
                subject: "品川 300 さ 12-34".into(),
                expiry_date: Date::new(2027, 1, 31).unwrap(),
                renewable: true,
            }]
        );
        assert!(directory.list_contracts("C9999999").unwrap().is_empty());
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory.json");
        std::fs::write(&path, SAMPLE).unwrap();
        let directory = FileDirectory::load(&path).unwrap();
        assert!(directory.find_policyholder(&yamada()).unwrap().is_some());

        let missing = dir.path().join("missing.json");
        let error = format!("{:#}", FileDirectory::load(&missing).unwrap_err());
        assert!(error.contains("missing.json"), "{error}");

        std::fs::write(&path, with_field("birth_date", "1985-02-30".into())).unwrap();
        let error = format!("{:#}", FileDirectory::load(&path).unwrap_err());
        assert!(error.contains("directory.json"), "{error}");
        assert!(error.contains("birth_date"), "{error}");
    }

    #[test]
    fn an_invalid_birth_date_names_the_policyholder_and_field() {
        for bad in [
            "1985-02-30",
            "1985-13-01",
            "1985-4-1",
            "85-04-01",
            "1985/04/01",
            "１９８５-04-01",
        ] {
            let error = error_text(&with_field("birth_date", bad.into()));
            assert!(error.contains("policyholders[0]"), "{error}");
            assert!(error.contains("C0000001"), "{error}");
            assert!(error.contains("birth_date"), "{error}");
            assert!(error.contains("not a valid date"), "{error}");
        }
    }

    #[test]
    fn unnormalised_values_are_refused_with_the_field_named() {
        let cases = [
            ("family_name", "山田 ", "space"),
            ("given_name", "ﾀﾛｳ", "half-width"),
            ("family_name", "ＹＡＭＡＤＡ", "full-width"),
            ("family_name", "", "empty"),
            ("family_name_kana", "やまだ", "katakana"),
            ("given_name_kana", "ﾀﾛｳ", "katakana"),
            ("given_name_kana", "タロウ　", "katakana"),
            ("phone", "090-1234-5678", "digits"),
            ("phone", "０９０１２３４５６７８", "digits"),
            ("phone", "12345", "digits"),
            ("postal_code", "100-0004", "seven"),
            ("customer_id", "", "empty"),
        ];
        for (field, value, expected) in cases {
            let error = error_text(&with_field(field, value.into()));
            assert!(error.contains(field), "{field}: {error}");
            assert!(error.contains(expected), "{field}: {error}");
            assert!(error.contains("policyholders[0]"), "{field}: {error}");
        }
    }

    #[test]
    fn contract_errors_name_the_contract() {
        let contract = |policy: &str, expiry: &str| {
            serde_json::json!([{
                "policy_number": policy, "product": "自動車保険",
                "subject": "品川 300 さ 12-34", "expiry_date": expiry, "renewable": true
            }])
        };
        let error = error_text(&with_field("contracts", contract("a-123", "2026-08-31")));
        assert!(error.contains("contracts[0]"), "{error}");
        assert!(error.contains("policy_number"), "{error}");
        let error = error_text(&with_field("contracts", contract("A123456789", "2026-02-29")));
        assert!(error.contains("expiry_date"), "{error}");
        assert!(error.contains("not a valid date"), "{error}");
    }

    #[test]
    fn duplicates_are_refused() {
        let mut file: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        file["policyholders"][2]["customer_id"] = "C0000001".into();
        let error = error_text(&file.to_string());
        assert!(error.contains("policyholders[2]"), "{error}");
        assert!(
            error.contains("customer_id \"C0000001\" appears more than once"),
            "{error}"
        );

        let mut file: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        file["policyholders"][3]["contracts"][1]["policy_number"] = "B234567890".into();
        let error = error_text(&file.to_string());
        assert!(error.contains("policyholders[3]"), "{error}");
        assert!(error.contains("B234567890"), "{error}");
        assert!(error.contains("C0000002"), "names the other holder: {error}");
    }

    #[test]
    fn malformed_json_is_refused_clearly() {
        assert!(error_text("not json").contains("not valid directory JSON"));
        assert!(error_text("{}").contains("policyholders"));
        let misspelt = with_field("birthdate", "1985-04-01".into());
        let error = error_text(&misspelt);
        assert!(error.contains("birthdate"), "unknown fields are named: {error}");
    }

    #[test]
    fn dates_parse_print_and_serialise_as_iso() {
        let date: Date = "2000-02-29".parse().unwrap();
        assert_eq!(date, Date::new(2000, 2, 29).unwrap());
        assert_eq!(date.to_string(), "2000-02-29");
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2000-02-29\"");
        assert_eq!(serde_json::from_str::<Date>("\"0987-01-09\"").unwrap().year, 987);
        assert!(serde_json::from_str::<Date>("\"1900-02-29\"").is_err());
        assert_eq!(Date::new(1900, 2, 29), None);
        assert_eq!(Date::new(2024, 2, 29).map(|d| d.day), Some(29));
        assert_eq!(Date::new(2023, 4, 31), None);
        assert_eq!(Date::new(2023, 0, 1), None);
        assert_eq!(Date::new(0, 1, 1), None);
        assert!(Date::new(2026, 1, 1) < Date::new(2026, 1, 2));
        assert!("2026-01-01x".parse::<Date>().is_err());
        assert!("".parse::<Date>().is_err());
    }
}
