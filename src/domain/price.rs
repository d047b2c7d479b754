//! Prices and costs, in integers so that no sum is ever rounded: a price is
//! USD per million tokens kept in millionths (2.5 is 2 500 000), a cost is
//! micro-dollars. A price is given in USD with at most six decimals; more
//! are rounded to the nearest millionth.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use super::json;
use super::InvalidInput;

/// The most a price may be, in USD per million tokens: far above any
/// model's (the dearest are in the hundreds), low enough to catch a price
/// typed per token or in micro-dollars.
pub const MAX_USD_PER_MILLION: u32 = 10_000;

const MILLION: i64 = 1_000_000;

/// `millionths` as a decimal number with at least `min_decimals` and at
/// most six decimals: `decimal(3_125_000, 0)` is `3.125`.
fn decimal(millionths: i64, min_decimals: usize) -> String {
    let sign = if millionths < 0 { "-" } else { "" };
    let whole = millionths.unsigned_abs() / MILLION as u64;
    let fraction = format!("{:06}", millionths.unsigned_abs() % MILLION as u64);
    let kept = fraction.trim_end_matches('0').len().max(min_decimals);
    if kept == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{}", &fraction[..kept])
    }
}

/// Micro-dollars: what a chat, or many, cost. JSON shows it in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Micros(pub i64);

impl Micros {
    pub fn usd(self) -> f64 {
        self.0 as f64 / MILLION as f64
    }

    /// `0.000125`, `12.5`: in USD, exactly, as a CSV cell has it.
    pub fn decimal_usd(self) -> String {
        decimal(self.0, 0)
    }
}

/// `$0.000125`, `$12.50`: every micro-dollar shown, cents at least.
impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", decimal(self.0, 2))
    }
}

impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.usd())
    }
}

impl rusqlite::types::FromSql for Micros {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Micros)
    }
}

impl rusqlite::ToSql for Micros {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.0.into())
    }
}

/// USD per million tokens, in millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMillion(i64);

impl PerMillion {
    /// A price in USD per million tokens, as sent for `field`.
    pub fn from_usd(field: &str, usd: f64) -> Result<PerMillion, InvalidInput> {
        let refuse = |why: String| InvalidInput::new(field, format!("`{field}` {why}"));
        if !usd.is_finite() {
            return Err(refuse("must be a number of USD per million tokens".into()));
        }
        if usd < 0.0 {
            return Err(refuse(format!("must not be negative, got {usd}")));
        }
        if usd > f64::from(MAX_USD_PER_MILLION) {
            return Err(refuse(format!(
                "must be at most {MAX_USD_PER_MILLION} USD per million tokens, got {usd}"
            )));
        }
        Ok(PerMillion((usd * MILLION as f64).round() as i64))
    }

    /// As the store keeps it.
    pub fn from_stored(millionths: i64) -> PerMillion {
        PerMillion(millionths)
    }

    pub fn stored(self) -> i64 {
        self.0
    }
}

/// `3.125`, `10`: the price in USD, exactly.
impl fmt::Display for PerMillion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&decimal(self.0, 0))
    }
}

impl Serialize for PerMillion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0 as f64 / MILLION as f64)
    }
}

/// Tokens of a chat, by how they are priced: `input` counts the prompt
/// tokens neither read from nor written to the provider's cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

impl Tokens {
    /// Every token, cached ones too: what a token limit counts.
    pub fn total(&self) -> i64 {
        self.input + self.output + self.cache_read + self.cache_write
    }
}

/// A model's price; a cache price left out is the input price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub input: PerMillion,
    pub output: PerMillion,
    pub cache_read: Option<PerMillion>,
    pub cache_write: Option<PerMillion>,
}

impl Price {
    /// What `tokens` cost: each kind at its price, summed exactly, then
    /// rounded up once to a whole micro-dollar, so that priced tokens never
    /// cost nothing.
    pub fn cost(&self, tokens: &Tokens) -> Micros {
        let cache_read = self.cache_read.unwrap_or(self.input);
        let cache_write = self.cache_write.unwrap_or(self.input);
        // Tokens times millionths of a dollar per million: 1e-12 dollars.
        let pico: i128 = [
            (tokens.input, self.input),
            (tokens.output, self.output),
            (tokens.cache_read, cache_read),
            (tokens.cache_write, cache_write),
        ]
        .iter()
        .map(|(count, price)| i128::from((*count).max(0)) * i128::from(price.0))
        .sum();
        let micros = (pico + i128::from(MILLION) - 1) / i128::from(MILLION);
        Micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// A price as a client sends it (`{"input": 2.5, "output": 10,
/// "cacheRead": 1.25, "cacheWrite": 3.125}`, the cache prices optional and
/// null when not set), or as the admin's form does.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceInput {
    #[serde(default, deserialize_with = "json::number")]
    input: Option<f64>,
    #[serde(default, deserialize_with = "json::number")]
    output: Option<f64>,
    #[serde(default, deserialize_with = "json::nullable_number")]
    cache_read: Option<Option<f64>>,
    #[serde(default, deserialize_with = "json::nullable_number")]
    cache_write: Option<Option<f64>>,
}

impl PriceInput {
    /// The admin form's fields, as typed; an empty field is left out.
    pub fn from_text(
        input: &str,
        output: &str,
        cache_read: &str,
        cache_write: &str,
    ) -> Result<PriceInput, InvalidInput> {
        let number = |field: &str, raw: &str| -> Result<Option<f64>, InvalidInput> {
            let raw = raw.trim();
            if raw.is_empty() {
                return Ok(None);
            }
            raw.parse::<f64>().map(Some).map_err(|_| {
                InvalidInput::new(
                    field,
                    format!("`{field}` must be a number of USD per million tokens, like 2.5, got {raw:?}"),
                )
            })
        };
        Ok(PriceInput {
            input: number("input", input)?,
            output: number("output", output)?,
            cache_read: Some(number("cacheRead", cache_read)?),
            cache_write: Some(number("cacheWrite", cache_write)?),
        })
    }
}

impl TryFrom<PriceInput> for Price {
    type Error = InvalidInput;

    fn try_from(input: PriceInput) -> Result<Price, InvalidInput> {
        let required = |field: &str, usd: Option<f64>| {
            PerMillion::from_usd(field, json::required(field, usd)?)
        };
        let optional = |field: &str, usd: Option<Option<f64>>| {
            usd.flatten()
                .map(|usd| PerMillion::from_usd(field, usd))
                .transpose()
        };
        Ok(Price {
            input: required("input", input.input)?,
            output: required("output", input.output)?,
            cache_read: optional("cacheRead", input.cache_read)?,
            cache_write: optional("cacheWrite", input.cache_write)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::domain::JsonObject;

    fn price(body: Value) -> Result<Price, InvalidInput> {
        let input: PriceInput = JsonObject::from(body.as_object().unwrap().clone()).into_input()?;
        Price::try_from(input)
    }

    #[test]
    fn prices_are_exact_millionths_and_rounded_past_six_decimals() {
        let p = price(json!({"input": 0.15, "output": 10, "cacheRead": 3.125, "cacheWrite": null}))
            .unwrap();
        assert_eq!(p.input.stored(), 150_000);
        assert_eq!(p.output.stored(), 10_000_000);
        assert_eq!(p.cache_read.map(PerMillion::stored), Some(3_125_000));
        assert_eq!(p.cache_write, None);
        assert_eq!(p.cache_read.unwrap().to_string(), "3.125");
        assert_eq!(p.output.to_string(), "10");
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            json!({"input": 0.15, "output": 10.0, "cacheRead": 3.125, "cacheWrite": null})
        );
        let rounded = price(json!({"input": 0.0000004, "output": 1.0000015})).unwrap();
        assert_eq!(rounded.input.stored(), 0);
        assert_eq!(rounded.output.stored(), 1_000_002);
    }

    #[test]
    fn bad_prices_name_their_field() {
        for (body, field, message) in [
            (json!({"output": 1}), "input", "`input` is required"),
            (
                json!({"input": -1, "output": 1}),
                "input",
                "`input` must not be negative, got -1",
            ),
            (
                json!({"input": 1, "output": 10001}),
                "output",
                "`output` must be at most 10000 USD per million tokens, got 10001",
            ),
            (
                json!({"input": 1, "output": "2"}),
                "output",
                "`output` must be a number, not a string",
            ),
            (
                json!({"input": 1, "output": 2, "cacheRead": true}),
                "cacheRead",
                "`cacheRead` must be a number, not a boolean",
            ),
            (
                json!({"input": null, "output": 2}),
                "input",
                "`input` must be a number, not null",
            ),
        ] {
            let err = price(body.clone()).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.message.as_str()),
                (field, message),
                "{body}"
            );
        }
        for typed in ["NaN", "inf", "abc"] {
            let err = PriceInput::from_text("1", "2", typed, "")
                .and_then(Price::try_from)
                .unwrap_err();
            assert_eq!(err.field, "cacheRead", "{typed}");
        }
        let form = PriceInput::from_text(" 2.5 ", "10", "", "3.125").unwrap();
        let p = Price::try_from(form).unwrap();
        assert_eq!(
            (p.cache_read, p.cache_write.map(PerMillion::stored)),
            (None, Some(3_125_000))
        );
    }

    #[test]
    fn costs_sum_exactly_and_round_up_once() {
        let p = price(json!({"input": 2.5, "output": 10, "cacheRead": 1.25})).unwrap();
        let tokens = Tokens {
            input: 1000,
            output: 500,
            cache_read: 2000,
            cache_write: 100,
        };
        // 1000 × 2.5 + 500 × 10 + 2000 × 1.25 + 100 × 2.5 (cache writes at
        // the input price) = 10 250 micro-dollars.
        assert_eq!(p.cost(&tokens), Micros(10_250));
        let cheap = price(json!({"input": 0.05, "output": 0.4})).unwrap();
        let one = Tokens {
            input: 1,
            ..Tokens::default()
        };
        assert_eq!(cheap.cost(&one), Micros(1), "never free when priced");
        assert_eq!(cheap.cost(&Tokens::default()), Micros(0));
        let free = price(json!({"input": 0, "output": 0})).unwrap();
        assert_eq!(free.cost(&tokens), Micros(0));
    }

    #[test]
    fn micros_show_every_digit_and_cents_at_least() {
        assert_eq!(Micros(125).to_string(), "$0.000125");
        assert_eq!(Micros(12_500_000).to_string(), "$12.50");
        assert_eq!(Micros(0).to_string(), "$0.00");
        assert_eq!(Micros(12_500_000).decimal_usd(), "12.5");
        assert_eq!(Micros(1_234_567_891).decimal_usd(), "1234.567891");
        assert_eq!(Micros(0).decimal_usd(), "0");
        assert_eq!(
            serde_json::to_value(Micros(1_234)).unwrap(),
            json!(0.001234)
        );
    }
}
