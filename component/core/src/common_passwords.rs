//! The breached and common passwords [`crate::validate::password`] refuses:
//! about 340,000 passwords of 10 characters or more from the SecLists
//! "Common-Credentials" compilation, compiled in as a Golomb-Rice coded
//! set of their hashes (about 600 KB). `data/make_common_passwords.py`
//! says which passwords, and builds the file.
//!
//! A lookup hashes the folded password (NFKC, lower-case), finds its block
//! in the index by binary search and decodes at most one block (128
//! values). Nothing is unpacked at start and nothing is allocated: the set
//! stays in the component's data segment. A password not in the list is
//! taken for one with probability 2^-12 (a customer is asked to choose
//! another, 1 in 4,096 times).

use sha2::{Digest, Sha256};

/// The coded set (see `data/make_common_passwords.py` for the layout).
static SET: &[u8] = include_bytes!("../data/common-passwords.gcs");

const MAGIC: &[u8; 8] = b"CWGCS1\0\0";
const HEADER: usize = 8 + 5 * 4;

/// Whether `folded` (NFKC, lower-case) is in the list.
pub(crate) fn contains(folded: &str) -> bool {
    // The file is built with the crate and checked by the tests; a broken
    // one refuses nothing rather than panicking.
    Coded::parse(SET).is_some_and(|set| set.contains(folded))
}

/// The number of passwords in the list.
pub fn len() -> usize {
    Coded::parse(SET).map_or(0, |set| set.count as usize)
}

struct Coded<'a> {
    count: u32,
    rice_bits: u32,
    span: u32,
    stride: u32,
    index: &'a [u8],
    stream: &'a [u8],
}

impl<'a> Coded<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Coded<'a>> {
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let word = |i: usize| -> Option<u32> {
            let at = 8 + 4 * i;
            Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let (count, rice_bits, span, stride, blocks) = (word(0)?, word(1)?, word(2)?, word(3)?, word(4)?);
        if rice_bits == 0 || rice_bits > 24 || stride == 0 {
            return None;
        }
        let index_end = HEADER.checked_add((blocks as usize).checked_mul(8)?)?;
        Some(Coded {
            count,
            rice_bits,
            span,
            stride,
            index: bytes.get(HEADER..index_end)?,
            stream: bytes.get(index_end..)?,
        })
    }

    /// (first value, bit offset just after it) of block `i`.
    fn block(&self, i: usize) -> (u32, usize) {
        let at = 8 * i;
        let read = |o: usize| {
            self.index
                .get(at + o..at + o + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes)
        };
        (read(0), read(4) as usize)
    }

    fn bit(&self, position: usize) -> Option<bool> {
        let byte = self.stream.get(position / 8)?;
        Some(byte & (0x80 >> (position % 8)) != 0)
    }

    fn contains(&self, folded: &str) -> bool {
        let digest = Sha256::digest(folded.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let hash = u64::from_be_bytes(first);
        let target = ((u128::from(hash) * u128::from(self.span)) >> 64) as u64;
        let blocks = self.index.len() / 8;
        // The last block whose first value is at most the target.
        let (mut low, mut high) = (0usize, blocks);
        while low < high {
            let mid = (low + high) / 2;
            if u64::from(self.block(mid).0) <= target {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let Some(block) = low.checked_sub(1) else {
            return false;
        };
        let (first_value, mut position) = self.block(block);
        let mut value = u64::from(first_value);
        if value == target {
            return true;
        }
        for _ in 1..self.stride {
            let mut quotient = 0u64;
            loop {
                match self.bit(position) {
                    Some(true) => quotient += 1,
                    Some(false) => break,
                    None => return false,
                }
                position += 1;
            }
            position += 1;
            let mut remainder = 0u64;
            for _ in 0..self.rice_bits {
                let Some(bit) = self.bit(position) else {
                    return false;
                };
                remainder = remainder << 1 | u64::from(bit);
                position += 1;
            }
            value += quotient << self.rice_bits | remainder;
            if value == target {
                return true;
            }
            if value > target {
                return false;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_list_parses_and_holds_a_few_hundred_thousand() {
        assert!(Coded::parse(SET).is_some());
        assert!((300_000..400_000).contains(&len()), "{}", len());
    }

    #[test]
    fn known_entries_are_found_and_a_random_phrase_is_not() {
        for common in [
            "password123!",
            "passw0rd12",
            "qwertyuiop",
            "1234567890",
            "iloveyou123",
        ] {
            assert!(contains(common), "{common}");
        }
        for fresh in [
            "kasumigaseki-2026",
            "correct horse battery",
            "紫陽花の咲く坂道で待ち合わせ",
        ] {
            assert!(!contains(fresh), "{fresh}");
        }
    }

    #[test]
    fn a_broken_file_refuses_nothing() {
        assert!(Coded::parse(b"not a set").is_none());
        let mut short = SET[..HEADER + 8].to_vec();
        short[8 + 16..8 + 20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Coded::parse(&short).is_none());
    }
}
