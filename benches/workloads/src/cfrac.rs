//! A cfrac-like workload: the continued-fraction expansion of `sqrt(N)` that the CFRAC
//! factoring method walks, with trial division of every `Q` over a small factor base, on
//! big numbers that are immutable values (every operation allocates its result, as the C
//! program's bignum library does). Most objects are a few dozen bytes and die at once.
//!
//! Verification: every step checks `P(k+1)^2 + Q(k) Q(k+1) = N`, and every seventh step the
//! convergent identity `A(k)^2 = (-1)^(k+1) Q(k+1) (mod N)`.

use crate::{mix, Outcome, Params, Rng};
use std::cmp::Ordering;

/// A non-negative integer: little-endian 32-bit limbs, no high zero limbs (zero is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Big(Vec<u32>);

impl Big {
    fn norm(mut v: Vec<u32>) -> Big {
        while v.last() == Some(&0) {
            v.pop();
        }
        Big(v)
    }

    pub(crate) fn from_u128(mut x: u128) -> Big {
        let mut v = Vec::new();
        while x != 0 {
            v.push(x as u32);
            x >>= 32;
        }
        Big(v)
    }

    #[cfg(test)]
    pub(crate) fn to_u128(&self) -> u128 {
        self.0
            .iter()
            .rev()
            .fold(0u128, |acc, &l| (acc << 32) | l as u128)
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn is_one(&self) -> bool {
        self.0 == [1]
    }

    fn low_u64(&self) -> u64 {
        let lo = self.0.first().copied().unwrap_or(0) as u64;
        let hi = self.0.get(1).copied().unwrap_or(0) as u64;
        lo | hi << 32
    }

    fn bits(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    pub(crate) fn add(&self, o: &Big) -> Big {
        let (long, short) = if self.0.len() >= o.0.len() {
            (self, o)
        } else {
            (o, self)
        };
        let mut v = Vec::with_capacity(long.0.len() + 1);
        let mut carry = 0u64;
        for (i, &l) in long.0.iter().enumerate() {
            let s = l as u64 + short.0.get(i).copied().unwrap_or(0) as u64 + carry;
            v.push(s as u32);
            carry = s >> 32;
        }
        if carry != 0 {
            v.push(carry as u32);
        }
        Big(v)
    }

    /// `self - o`; `self >= o` is the caller's invariant (a violation is a bug here).
    pub(crate) fn sub(&self, o: &Big) -> Big {
        assert!(
            self.cmp(o) != Ordering::Less,
            "negative big-number difference"
        );
        let mut v = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let d = l as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (d < 0) as i64;
            v.push(d.rem_euclid(1 << 32) as u32);
        }
        Big::norm(v)
    }

    pub(crate) fn mul(&self, o: &Big) -> Big {
        if self.is_zero() || o.is_zero() {
            return Big(Vec::new());
        }
        let mut v = vec![0u32; self.0.len() + o.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in o.0.iter().enumerate() {
                let t = a as u64 * b as u64 + v[i + j] as u64 + carry;
                v[i + j] = t as u32;
                carry = t >> 32;
            }
            v[i + o.0.len()] = carry as u32;
        }
        Big::norm(v)
    }

    fn shl(&self, bits: usize) -> Big {
        if self.is_zero() {
            return Big(Vec::new());
        }
        let (limbs, sh) = (bits / 32, bits % 32);
        let mut v = vec![0u32; limbs];
        v.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &l in &self.0 {
            if sh == 0 {
                v.push(l);
            } else {
                v.push(l << sh | carry);
                carry = l >> (32 - sh);
            }
        }
        v.push(carry);
        Big::norm(v)
    }

    /// Quotient and remainder, by shift-and-subtract (one shifted divisor per quotient bit).
    pub(crate) fn divrem(&self, d: &Big) -> (Big, Big) {
        assert!(!d.is_zero(), "big-number division by zero");
        if self.cmp(d) == Ordering::Less {
            return (Big(Vec::new()), self.clone());
        }
        let shift = self.bits() - d.bits();
        let mut q = vec![0u32; shift / 32 + 1];
        let mut r = self.clone();
        for i in (0..=shift).rev() {
            let t = d.shl(i);
            if r.cmp(&t) != Ordering::Less {
                r = r.sub(&t);
                q[i / 32] |= 1 << (i % 32);
            }
        }
        (Big::norm(q), r)
    }

    /// Quotient and remainder by a small divisor.
    fn divrem_small(&self, d: u32) -> (Big, u32) {
        let mut v = vec![0u32; self.0.len()];
        let mut rem = 0u64;
        for (i, &l) in self.0.iter().enumerate().rev() {
            let cur = rem << 32 | l as u64;
            v[i] = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        (Big::norm(v), rem as u32)
    }

    /// `floor(sqrt(self))`, one bit at a time from the top.
    pub(crate) fn isqrt(&self) -> Big {
        let mut r = Big(Vec::new());
        for i in (0..=self.bits() / 2).rev() {
            let mut c = r.clone();
            if c.0.len() <= i / 32 {
                c.0.resize(i / 32 + 1, 0);
            }
            c.0[i / 32] |= 1 << (i % 32);
            if c.mul(&c).cmp(self) != Ordering::Greater {
                r = c;
            }
        }
        r
    }
}

/// The factor base of the trial divisions: the primes below 100.
const PRIMES: [u32; 25] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// Whether `q` factors completely over [`PRIMES`] (each division allocates a quotient).
fn smooth(q: &Big) -> bool {
    let mut q = q.clone();
    for &p in &PRIMES {
        loop {
            let (quot, rem) = q.divrem_small(p);
            if rem != 0 {
                break;
            }
            q = quot;
        }
    }
    q.is_one()
}

/// `steps` steps of the expansion of `sqrt(n)` (`n` not a square); returns the checksum, and
/// pushes the partial quotients `a(1), a(2), ...` (low 64 bits) on `seen` when given one.
fn expand(n: &Big, steps: usize, mut seen: Option<&mut Vec<u64>>) -> Outcome {
    let a0 = n.isqrt();
    if a0.mul(&a0) == *n {
        return Err("the number is a square".into());
    }
    // State at step k: P(k), Q(k), Q(k-1), a(k), A(k-1), A(k-2) (A(-1) = 1, A(-2) = 0).
    let (mut p, mut q, mut q_prev, mut a) =
        (Big(Vec::new()), Big::from_u128(1), n.clone(), a0.clone());
    let (mut a_1, mut a_2) = (Big::from_u128(1), Big(Vec::new()));
    let mut sum = 0u64;
    let mut smooth_count = 0u64;
    for k in 0..steps {
        let ak = a.mul(&a_1).add(&a_2).divrem(n).1;
        let p_next = a.mul(&q).sub(&p);
        let q_next = if p.cmp(&p_next) != Ordering::Less {
            q_prev.add(&a.mul(&p.sub(&p_next)))
        } else {
            q_prev.sub(&a.mul(&p_next.sub(&p)))
        };
        if p_next.mul(&p_next).add(&q.mul(&q_next)) != *n {
            return Err(format!("step {k}: P^2 + Q Q' is not N"));
        }
        if k % 7 == 0 {
            let sq = ak.mul(&ak).divrem(n).1;
            let want = if k % 2 == 1 {
                q_next.clone()
            } else {
                n.sub(&q_next)
            };
            if sq != want {
                return Err(format!("step {k}: the convergent identity fails"));
            }
        }
        if q_next.is_zero() {
            return Err(format!("step {k}: Q became zero"));
        }
        let a_next = a0.add(&p_next).divrem(&q_next).0;
        smooth_count += smooth(&q_next) as u64;
        if let Some(seen) = seen.as_deref_mut() {
            seen.push(a_next.low_u64());
        }
        sum = mix(sum, a_next.low_u64() ^ (q_next.bit(0) as u64) << 63);
        (a_2, a_1) = (a_1, ak);
        (p, q_prev, q, a) = (p_next, q, q_next, a_next);
    }
    Ok(mix(sum, smooth_count))
}

/// The workload: 8 numbers of about 40 digits (130 bits), `30_000 * scale` steps each.
pub(crate) fn run(p: &Params) -> Outcome {
    let mut rng = Rng::new(0xcf7ac);
    let steps = p.n(30_000);
    let mut sum = 0;
    for _ in 0..8 {
        let hi = rng.below(1 << 2) + 2;
        let n = Big::from_u128((rng.next_u64() as u128) << 64 | rng.next_u64() as u128 | 1);
        let n = n.add(&Big(vec![0, 0, 0, 0, hi as u32]));
        sum = mix(sum, expand(&n, steps, None)?);
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_matches_u128() {
        let mut rng = Rng::new(5);
        for _ in 0..2000 {
            let bits_a = rng.range(0, 127) as u32;
            let bits_b = rng.range(1, 126) as u32;
            let a = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
            let b = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
            let a = a >> (127 - bits_a);
            let b = (b >> (127 - bits_b)).max(1);
            let (ba, bb) = (Big::from_u128(a), Big::from_u128(b));
            assert_eq!(ba.add(&bb).to_u128(), a.wrapping_add(b), "{a} + {b}");
            if a >= b {
                assert_eq!(ba.sub(&bb).to_u128(), a - b);
            }
            let (q, r) = ba.divrem(&bb);
            assert_eq!((q.to_u128(), r.to_u128()), (a / b, a % b), "{a} / {b}");
            let (lo_a, lo_b) = (a as u64 as u128, b as u64 as u128);
            assert_eq!(
                Big::from_u128(lo_a).mul(&Big::from_u128(lo_b)).to_u128(),
                lo_a * lo_b
            );
            let d = rng.range(1, u32::MAX as usize) as u32;
            let (q, r) = ba.divrem_small(d);
            assert_eq!((q.to_u128(), r as u128), (a / d as u128, a % d as u128));
            let s = Big::from_u128(a).isqrt().to_u128();
            let above = (s + 1).checked_mul(s + 1).map_or(true, |sq| sq > a);
            assert!(s * s <= a && above, "isqrt({a}) = {s}");
        }
    }

    #[test]
    fn expansion_of_sqrt_of_small_numbers() {
        // sqrt(14) = [3; 1, 2, 1, 6, 1, 2, 1, 6, ...], sqrt(31) = [5; 1, 1, 3, 5, 3, 1, 1, 10].
        assert_eq!(Big::from_u128(14).isqrt().to_u128(), 3);
        let mut seen = Vec::new();
        assert!(expand(&Big::from_u128(14), 8, Some(&mut seen)).is_ok());
        assert_eq!(seen, [1, 2, 1, 6, 1, 2, 1, 6]);
        seen.clear();
        assert!(expand(&Big::from_u128(31), 9, Some(&mut seen)).is_ok());
        assert_eq!(seen, [1, 1, 3, 5, 3, 1, 1, 10, 1]);
        // A 40-digit number runs long with every identity holding.
        let n = Big::from_u128(u128::MAX / 3)
            .mul(&Big::from_u128(1 << 7))
            .add(&Big::from_u128(1));
        assert!(expand(&n, 500, None).is_ok());
        assert!(
            expand(&Big::from_u128(49), 10, None).is_err(),
            "a square was accepted"
        );
    }
}
