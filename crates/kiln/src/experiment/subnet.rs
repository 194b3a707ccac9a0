//! Subnets that never clash: blocks of a pool (`10.213.0.0/16` in /24s by default), the first
//! free one from a point that depends on the experiment and test, so parallel experiments
//! start apart and rarely race for the same block.

use std::fmt;

use ipnet::Ipv4Net;
use kiln_core::{Error, Result};
use sha2::{Digest, Sha256};

/// The pool kiln takes test subnets from unless configured otherwise.
pub const DEFAULT_POOL: &str = "10.213.0.0/16";
/// The size of each test's block in the default pool.
pub const DEFAULT_BLOCK_PREFIX: u8 = 24;

/// A range of addresses split into equal blocks, one per test network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    range: Ipv4Net,
    block_prefix: u8,
}

impl Default for SubnetPool {
    fn default() -> Self {
        SubnetPool {
            range: Ipv4Net::new(std::net::Ipv4Addr::new(10, 213, 0, 0), 16).unwrap_or_default(),
            block_prefix: DEFAULT_BLOCK_PREFIX,
        }
    }
}

impl fmt::Display for SubnetPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in /{} blocks", self.range, self.block_prefix)
    }
}

impl SubnetPool {
    /// The pool `cidr` (`10.213.0.0/16`) split into blocks of `/block_prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the pool when it is not an IPv4 network, or when its
    /// blocks would not fit in it (or would be smaller than a /30).
    pub fn new(cidr: &str, block_prefix: u8) -> Result<SubnetPool> {
        let range: Ipv4Net = cidr.parse().map_err(|_| {
            Error::invalid_input("subnet pool", cidr, "an IPv4 network such as 10.213.0.0/16")
        })?;
        if range.trunc() != range {
            return Err(Error::invalid_input(
                "subnet pool",
                cidr,
                format!("the network's own address ({})", range.trunc()),
            ));
        }
        if block_prefix < range.prefix_len() || block_prefix > 30 {
            return Err(Error::invalid_input(
                "subnet pool",
                format!("{cidr} in /{block_prefix} blocks"),
                format!(
                    "blocks from /{} (the whole pool) to /30",
                    range.prefix_len()
                ),
            ));
        }
        Ok(SubnetPool {
            range,
            block_prefix,
        })
    }

    /// The whole range.
    pub fn range(&self) -> Ipv4Net {
        self.range
    }

    /// How many blocks the pool holds.
    pub fn block_count(&self) -> u64 {
        1u64 << (self.block_prefix - self.range.prefix_len())
    }

    /// Block number `index` (0-based, below [`SubnetPool::block_count`]).
    fn block(&self, index: u64) -> Option<Ipv4Net> {
        let size = 1u64 << (32 - self.block_prefix);
        let start = u64::from(u32::from(self.range.network())) + index.checked_mul(size)?;
        let address = std::net::Ipv4Addr::from(u32::try_from(start).ok()?);
        Ipv4Net::new(address, self.block_prefix).ok()
    }

    /// The first block overlapping none of `taken`, searching from a point chosen by `seed`
    /// (the experiment and test) and wrapping around; `None` when every block is taken.
    pub fn pick(&self, taken: &[Ipv4Net], seed: &str) -> Option<Ipv4Net> {
        let count = self.block_count();
        let digest = Sha256::digest(seed.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let start = u64::from_be_bytes(first) % count;
        (0..count)
            .map(|step| (start + step) % count)
            .filter_map(|index| self.block(index))
            .find(|block| !taken.iter().any(|other| overlaps(block, other)))
    }
}

/// Whether two networks share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(text: &str) -> Ipv4Net {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_pool_has_256_blocks_of_24() {
        let pool = SubnetPool::default();
        assert_eq!(pool.block_count(), 256);
        assert_eq!(pool.to_string(), "10.213.0.0/16 in /24 blocks");
        let block = pool.pick(&[], "exp-1/handshake").unwrap();
        assert_eq!(block.prefix_len(), 24);
        assert!(pool.range().contains(&block));
    }

    #[test]
    fn a_foreign_network_squatting_a_block_is_skipped() {
        let pool = SubnetPool::new("10.213.0.0/22", 24).unwrap();
        let squatter = net("10.213.0.0/23");
        let mut taken = vec![squatter];
        let third = pool.pick(&taken, "s").unwrap();
        assert!(!overlaps(&third, &squatter));
        taken.push(third);
        let fourth = pool.pick(&taken, "s").unwrap();
        assert!(!overlaps(&fourth, &squatter) && fourth != third);
        taken.push(fourth);
        assert_eq!(pool.pick(&taken, "s"), None, "the pool is full");
    }

    #[test]
    fn bad_pools_name_the_value() {
        for (cidr, prefix) in [
            ("10.213.0.0", 24),
            ("10.213.1.0/16", 24),
            ("10.0.0.0/24", 16),
            ("10.0.0.0/24", 31),
        ] {
            let error = SubnetPool::new(cidr, prefix).unwrap_err().to_string();
            assert!(error.contains(cidr), "{error}");
        }
    }

    proptest! {
        #[test]
        fn a_pick_never_overlaps_and_finds_any_free_block(
            taken_blocks in proptest::collection::vec(0u64..64, 0..80),
            wide in proptest::collection::vec(0u64..16, 0..4),
            seed in "[a-z0-9/-]{1,20}",
        ) {
            let pool = SubnetPool::new("10.213.0.0/18", 24).unwrap();
            let mut taken: Vec<Ipv4Net> = taken_blocks.iter().filter_map(|&i| pool.block(i)).collect();
            // Networks wider than a block (a /22 somebody else made).
            taken.extend(wide.iter().filter_map(|&i| Ipv4Net::new(std::net::Ipv4Addr::from(u32::from(pool.range().network()) + (i as u32) * 1024), 22).ok()));
            let free = (0..pool.block_count()).filter_map(|i| pool.block(i)).any(|b| !taken.iter().any(|t| overlaps(&b, t)));
            match pool.pick(&taken, &seed) {
                Some(block) => {
                    prop_assert!(pool.range().contains(&block));
                    prop_assert!(!taken.iter().any(|t| overlaps(&block, t)));
                }
                None => prop_assert!(!free, "a free block existed"),
            }
        }
    }
}
