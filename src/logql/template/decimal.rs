//! Exact decimal arithmetic for Sprig's `addf`, `subf`, `mulf` and `divf`,
//! which convert their float arguments to `shopspring/decimal` values (the
//! shortest decimal that round-trips), compute exactly (division: rounded
//! half away from zero to 16 decimal places) and convert the result back
//! to the nearest float.
//!
//! Coefficients are decimal digit vectors; results needing more than
//! [`MAX_DIGITS`] digits are refused (an error, where Go would build ever
//! larger integers).

use std::cmp::Ordering;

/// The most digits a coefficient (or an intermediate of a division) may
/// have.
const MAX_DIGITS: usize = 1000;

/// shopspring's `DivisionPrecision`.
const DIVISION_PRECISION: i64 = 16;

/// An operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// `coef × 10^exp`; `coef` holds big-endian decimal digits without leading
/// zeros (empty for zero).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    neg: bool,
    coef: Vec<u8>,
    exp: i64,
}

fn too_big() -> String {
    format!("decimal value exceeds {MAX_DIGITS} digits")
}

fn trim_leading(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|&&d| d == 0).count();
    v.drain(..zeros);
    v
}

fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0u8;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 || j > 0 || carry > 0 {
        let mut s = carry;
        if i > 0 {
            i -= 1;
            s += a.get(i).copied().unwrap_or(0);
        }
        if j > 0 {
            j -= 1;
            s += b.get(j).copied().unwrap_or(0);
        }
        out.push(s % 10);
        carry = s / 10;
    }
    out.reverse();
    trim_leading(out)
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    let mut j = b.len();
    for i in (0..a.len()).rev() {
        let mut d = a.get(i).copied().unwrap_or(0) as i8 - borrow;
        if j > 0 {
            j -= 1;
            d -= b.get(j).copied().unwrap_or(0) as i8;
        }
        borrow = i8::from(d < 0);
        out.push((d + 10 * borrow) as u8);
    }
    out.reverse();
    trim_leading(out)
}

fn mul_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut acc = vec![0u32; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate().rev() {
        for (j, &y) in b.iter().enumerate().rev() {
            if let Some(slot) = acc.get_mut(i + j + 1) {
                *slot += u32::from(x) * u32::from(y);
            }
        }
    }
    let mut carry = 0u32;
    for slot in acc.iter_mut().rev() {
        let v = *slot + carry;
        *slot = v % 10;
        carry = v / 10;
    }
    trim_leading(acc.into_iter().map(|d| d as u8).collect())
}

/// Long division: (quotient, remainder).
fn divmod_mag(num: &[u8], den: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::with_capacity(num.len());
    let mut rem: Vec<u8> = Vec::with_capacity(den.len() + 1);
    for &d in num {
        rem.push(d);
        rem = trim_leading(rem);
        let mut digit = 0u8;
        while cmp_mag(&rem, den) != Ordering::Less {
            rem = sub_mag(&rem, den);
            digit += 1;
        }
        q.push(digit);
    }
    (trim_leading(q), rem)
}

fn shifted(coef: &[u8], zeros: i64) -> Result<Vec<u8>, String> {
    if coef.is_empty() {
        return Ok(Vec::new());
    }
    let zeros = usize::try_from(zeros).map_err(|_| too_big())?;
    if coef.len().saturating_add(zeros) > MAX_DIGITS {
        return Err(too_big());
    }
    let mut v = coef.to_vec();
    v.resize(coef.len() + zeros, 0);
    Ok(v)
}

impl Decimal {
    fn zero() -> Self {
        Decimal { neg: false, coef: Vec::new(), exp: 0 }
    }

    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `x`.
    pub(crate) fn from_f64(x: f64) -> Result<Self, String> {
        if !x.is_finite() {
            let what = if x.is_nan() {
                "NaN"
            } else if x > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(format!("Cannot create a Decimal from {what}"));
        }
        if x == 0.0 {
            return Ok(Decimal::zero());
        }
        let s = format!("{:e}", x.abs());
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i64 = e.parse().unwrap_or(0);
        let coef: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
        let exp = e - (coef.len() as i64 - 1);
        Ok(Decimal { neg: x < 0.0, coef: trim_leading(coef), exp })
    }

    fn check(self) -> Result<Self, String> {
        if self.coef.len() > MAX_DIGITS { Err(too_big()) } else { Ok(self) }
    }

    fn add(&self, other: &Decimal) -> Result<Decimal, String> {
        if self.coef.is_empty() {
            return Ok(other.clone());
        }
        if other.coef.is_empty() {
            return Ok(self.clone());
        }
        let exp = self.exp.min(other.exp);
        let a = shifted(&self.coef, self.exp.saturating_sub(exp))?;
        let b = shifted(&other.coef, other.exp.saturating_sub(exp))?;
        let (neg, coef) = if self.neg == other.neg {
            (self.neg, add_mag(&a, &b))
        } else {
            match cmp_mag(&a, &b) {
                Ordering::Equal => return Ok(Decimal::zero()),
                Ordering::Greater => (self.neg, sub_mag(&a, &b)),
                Ordering::Less => (other.neg, sub_mag(&b, &a)),
            }
        };
        Decimal { neg, coef, exp }.check()
    }

    fn negated(&self) -> Decimal {
        Decimal { neg: !self.neg, ..self.clone() }
    }

    fn mul(&self, other: &Decimal) -> Result<Decimal, String> {
        if self.coef.is_empty() || other.coef.is_empty() {
            return Ok(Decimal::zero());
        }
        if self.coef.len() + other.coef.len() > MAX_DIGITS {
            return Err(too_big());
        }
        let coef = mul_mag(&self.coef, &other.coef);
        Ok(Decimal { neg: self.neg != other.neg, coef, exp: self.exp.saturating_add(other.exp) })
    }

    /// `DivRound(other, 16)`: the quotient rounded half away from zero to
    /// 16 decimal places.
    fn div(&self, other: &Decimal) -> Result<Decimal, String> {
        if other.coef.is_empty() {
            return Err("decimal division by 0".to_owned());
        }
        if self.coef.is_empty() {
            return Ok(Decimal::zero());
        }
        let k = self.exp.saturating_sub(other.exp).saturating_add(DIVISION_PRECISION);
        let (num, den) = if k >= 0 {
            (shifted(&self.coef, k)?, other.coef.clone())
        } else {
            (self.coef.clone(), shifted(&other.coef, k.saturating_neg())?)
        };
        let (mut q, rem) = divmod_mag(&num, &den);
        if cmp_mag(&add_mag(&rem, &rem), &den) != Ordering::Less {
            q = add_mag(&q, &[1]);
        }
        if q.is_empty() {
            return Ok(Decimal::zero());
        }
        Decimal { neg: self.neg != other.neg, coef: q, exp: -DIVISION_PRECISION }.check()
    }

    pub(crate) fn apply(&self, op: DecimalOp, other: &Decimal) -> Result<Decimal, String> {
        match op {
            DecimalOp::Add => self.add(other),
            DecimalOp::Sub => self.add(&other.negated()),
            DecimalOp::Mul => self.mul(other),
            DecimalOp::Div => self.div(other),
        }
    }

    /// The nearest float.
    pub(crate) fn to_f64(&self) -> f64 {
        if self.coef.is_empty() {
            return 0.0;
        }
        let digits: String = self.coef.iter().map(|&d| char::from(b'0' + d)).collect();
        let v: f64 = format!("{digits}e{}", self.exp).parse().unwrap_or(0.0);
        if self.neg { -v } else { v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: f64, rest: &[f64], op: DecimalOp) -> Result<f64, String> {
        let mut acc = Decimal::from_f64(first)?;
        for &x in rest {
            acc = acc.apply(op, &Decimal::from_f64(x)?)?;
        }
        Ok(acc.to_f64())
    }

    #[test]
    fn arithmetic() {
        assert_eq!(run(0.1, &[0.2], DecimalOp::Add), Ok(0.3));
        assert_eq!(run(5.0, &[1.5, 3.0], DecimalOp::Sub), Ok(0.5));
        assert_eq!(run(10.5, &[0.5], DecimalOp::Mul), Ok(5.25));
        assert_eq!(run(20.2, &[5.25], DecimalOp::Div), Ok(3.8476190476190477));
        assert_eq!(run(20.4, &[5.25], DecimalOp::Div), Ok(3.8857142857142857));
        assert_eq!(run(1.0, &[3.0], DecimalOp::Div), Ok(0.3333333333333333));
        assert_eq!(run(2.0, &[3.0], DecimalOp::Div), Ok(0.6666666666666667));
        assert_eq!(run(-2.0, &[3.0], DecimalOp::Div), Ok(-0.6666666666666667));
        assert_eq!(run(1.0, &[0.0], DecimalOp::Div), Err("decimal division by 0".to_owned()));
        assert_eq!(run(1e300, &[1e-300], DecimalOp::Add), Ok(1e300));
        assert_eq!(run(1.2345678901234567, &[1.2345678901234567; 70], DecimalOp::Mul), Err(too_big()));
        assert_eq!(run(1e300, &[1e300], DecimalOp::Mul), Ok(f64::INFINITY));
        assert_eq!(run(1.0, &[1.0], DecimalOp::Sub), Ok(0.0));
        assert_eq!(run(0.0, &[-1.5, 2.25], DecimalOp::Add), Ok(0.75));
        assert_eq!(Decimal::from_f64(f64::NAN).err().as_deref(), Some("Cannot create a Decimal from NaN"));
        assert_eq!(Decimal::from_f64(f64::NEG_INFINITY).err().as_deref(), Some("Cannot create a Decimal from -Inf"));
    }
}
