//! Stacked bar charts of UTC days, one colour per series (a model), laid
//! out on the server as SVG: the dashboard's and the usage page's
//! (`_chart.html` draws them).

use std::collections::HashMap;

use super::format;
use crate::domain::day::iso_day;
use crate::domain::Micros;

/// Series drawn in their own colour (`s0`..); the rest share `s{SERIES}`.
const SERIES: usize = 5;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;
/// The widest a bar gets, however few the days.
const MAX_BAR: f64 = 48.0;
/// Days labelled on the x axis, at most.
const X_LABELS: i64 = 7;

/// How a chart's values read: counts of something, or micro-dollars.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count(&'static str),
    Usd,
}

impl Unit {
    /// On the y axis and in the caption: `12.3k`, `$0.50`.
    fn short(self, v: i64) -> String {
        match self {
            Unit::Count(_) => format::compact(v),
            Unit::Usd => format::usd(Micros(v)),
        }
    }

    /// In a bar's tooltip: `123 tokens`, `$0.000125`.
    fn exact(self, v: i64) -> String {
        match self {
            Unit::Count(unit) => format!("{v} {unit}"),
            Unit::Usd => format::usd(Micros(v)),
        }
    }
}

/// One day's value of one series.
pub struct Point {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    pub series: String,
    pub value: i64,
}

pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub series: usize,
    pub tip: String,
}

pub struct Tick {
    pub pos: f64,
    pub label: String,
}

pub struct Legend {
    pub series: usize,
    pub label: String,
}

/// The series that get their own colour, heaviest first, and the name of
/// the rest.
pub struct Series {
    ranked: Vec<String>,
    other: &'static str,
}

impl Series {
    /// Ranks series by the sum of their weights, heaviest first (ties by
    /// name); those that weigh nothing are left out.
    pub fn rank(weights: impl IntoIterator<Item = (String, i64)>, other: &'static str) -> Series {
        let mut sums: HashMap<String, i64> = HashMap::new();
        for (name, weight) in weights {
            *sums.entry(name).or_default() += weight;
        }
        let mut ranked: Vec<(String, i64)> = sums.into_iter().filter(|(_, w)| *w > 0).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Series {
            ranked: ranked.into_iter().map(|(name, _)| name).collect(),
            other,
        }
    }

    /// The colour of `name`: its rank among the first `SERIES`, else the
    /// colour of the rest.
    fn of(&self, name: &str) -> usize {
        match self.ranked.iter().position(|r| r == name) {
            Some(i) if i < SERIES => i,
            _ => SERIES,
        }
    }

    pub fn legend(&self) -> Vec<Legend> {
        let mut legend: Vec<Legend> = self
            .ranked
            .iter()
            .take(SERIES)
            .enumerate()
            .map(|(series, label)| Legend {
                series,
                label: label.clone(),
            })
            .collect();
        if self.ranked.len() > SERIES {
            legend.push(Legend {
                series: SERIES,
                label: self.other.to_owned(),
            });
        }
        legend
    }
}

/// One stacked bar chart, laid out in SVG user units.
pub struct Chart {
    pub title: &'static str,
    /// Read by screen readers: the title and the days.
    pub label: String,
    /// `246 in the last 30 days`.
    pub summary: String,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
}

/// 1, 2 or 5 times a power of ten, at least `n`.
fn nice_ceiling(n: i64) -> i64 {
    let mut scale: i64 = 1;
    loop {
        for step in [1, 2, 5] {
            if step * scale >= n {
                return step * scale;
            }
        }
        scale = scale.saturating_mul(10);
    }
}

/// `points` drawn as one bar a day for `days` days from `first_day`
/// (points outside are left out), stacked by series; `span` names the
/// days (`the last 30 days`).
pub fn chart(
    title: &'static str,
    span: &str,
    points: &[Point],
    first_day: i64,
    days: i64,
    series: &Series,
    unit: Unit,
) -> Chart {
    let days = days.max(1);
    let slot = (WIDTH - LEFT - RIGHT) / days as f64;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let shown = |p: &&Point| p.value > 0 && (first_day..first_day + days).contains(&p.day);
    let mut stacks: HashMap<i64, i64> = HashMap::new();
    for p in points.iter().filter(shown) {
        *stacks.entry(p.day).or_default() += p.value;
    }
    let max = nice_ceiling(stacks.values().copied().max().unwrap_or(0).max(1));
    let scale = plot_h / max as f64;
    let width = (slot * 0.7).min(MAX_BAR);
    let mut heights: HashMap<i64, f64> = HashMap::new();
    let mut bars = Vec::new();
    for p in points.iter().filter(shown) {
        let below = heights.entry(p.day).or_default();
        let h = p.value as f64 * scale;
        bars.push(Bar {
            x: LEFT + (p.day - first_day) as f64 * slot + (slot - width) / 2.0,
            y: TOP + plot_h - *below - h,
            w: width,
            h,
            series: series.of(&p.series),
            tip: format!("{} · {}: {}", iso_day(p.day), p.series, unit.exact(p.value)),
        });
        *below += h;
    }
    // The middle line only where it falls on a whole number.
    let middle = (max % 2 == 0).then_some(max / 2);
    let y_ticks = [Some(0), middle, Some(max)]
        .into_iter()
        .flatten()
        .map(|v| Tick {
            pos: TOP + plot_h - v as f64 * scale,
            label: unit.short(v),
        })
        .collect();
    // Counted back from the last day, which is always labelled.
    let step = (days + X_LABELS - 1) / X_LABELS;
    let x_ticks = (0..days)
        .filter(|d| (days - 1 - d) % step == 0)
        .map(|d| Tick {
            pos: LEFT + d as f64 * slot + slot / 2.0,
            label: format::month_day(first_day + d),
        })
        .collect();
    Chart {
        title,
        label: format!("{title}, {span}"),
        summary: format!("{} in {span}", unit.short(stacks.values().sum())),
        bars,
        y_ticks,
        x_ticks,
        width: WIDTH,
        height: HEIGHT,
        plot_left: LEFT,
        plot_right: WIDTH - RIGHT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: i64, series: &str, value: i64) -> Point {
        Point {
            day,
            series: series.to_owned(),
            value,
        }
    }

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(101), 200);
        assert_eq!(nice_ceiling(4_900), 5_000);
    }

    #[test]
    fn the_heaviest_series_get_colours_and_the_rest_share_one() {
        let weights = (0..8).map(|i| (format!("m{i}"), i64::from(i) + 1));
        let series = Series::rank(weights.chain([("free".to_owned(), 0)]), "other models");
        let legend: Vec<(usize, String)> = series
            .legend()
            .into_iter()
            .map(|l| (l.series, l.label))
            .collect();
        assert_eq!(legend.len(), SERIES + 1);
        assert_eq!(legend[0], (0, "m7".to_owned()), "heaviest first");
        assert_eq!(legend[SERIES], (SERIES, "other models".to_owned()));
        assert_eq!(series.of("m0"), SERIES);
        assert_eq!(series.of("free"), SERIES, "weighs nothing: not ranked");
    }

    #[test]
    fn one_day_gets_one_bar_no_wider_than_the_cap_and_one_label() {
        let series = Series::rank([("a".to_owned(), 5)], "other");
        let c = chart(
            "Cost",
            "today",
            &[point(100, "a", 5)],
            100,
            1,
            &series,
            Unit::Usd,
        );
        assert_eq!(c.bars.len(), 1);
        assert!(c.bars[0].w <= MAX_BAR);
        let middle = c.bars[0].x + c.bars[0].w / 2.0;
        assert!((middle - (LEFT + (WIDTH - LEFT - RIGHT) / 2.0)).abs() < 1e-9);
        assert_eq!(c.x_ticks.len(), 1);
        assert_eq!(c.bars[0].tip, "1970-04-11 · a: $0.000005");
    }

    #[test]
    fn a_month_stacks_by_day_and_labels_a_few_days_ending_with_the_last() {
        let series = Series::rank([("a".to_owned(), 1), ("b".to_owned(), 1)], "other");
        let points = [
            point(10, "a", 3),
            point(10, "b", 2),
            point(40, "a", 1),
            point(9, "a", 100),
        ];
        let c = chart(
            "Chats",
            "31 days",
            &points,
            10,
            31,
            &series,
            Unit::Count("chats"),
        );
        assert_eq!(c.bars.len(), 3, "the day before is left out");
        assert!(
            (c.bars[1].y + c.bars[1].h - c.bars[0].y).abs() < 1e-9,
            "stacked"
        );
        assert_eq!(c.summary, "6 in 31 days");
        assert!(c.x_ticks.len() <= X_LABELS as usize);
        let last = c.x_ticks.last().unwrap();
        assert_eq!(last.label, format::month_day(40));
    }
}
