//! Bandwidth weights (dir-spec §3.8.3, "bandwidth-weights" for consensus methods ≥ 14): the
//! case analysis C tor implements in `networkstatus_compute_bw_weights_v10`, with the same
//! 64-bit integer arithmetic (C division truncates toward zero, as Rust's does), the same
//! fallbacks between sub-cases and the same refusals, so the line matches C tor's digit for
//! digit.
//!
//! Inputs are the consensus bandwidths (`w Bandwidth=`, kilobytes) summed by role
//! ([`Totals::add`]); guardfraction is not supported.

use std::collections::BTreeMap;

/// The default `bwweightscale`.
pub const BW_WEIGHT_SCALE: i64 = 10_000;

/// Bandwidth totals by role (dir-spec §3.8.3): `G` guards that are not exits, `M` neither,
/// `E` exits that are not guards, `D` both, `T` all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Guard-only bandwidth.
    pub g: i64,
    /// Middle-only bandwidth.
    pub m: i64,
    /// Exit-only bandwidth.
    pub e: i64,
    /// Guard-and-exit bandwidth.
    pub d: i64,
    /// Total bandwidth.
    pub t: i64,
}

impl Totals {
    /// Adds one listed relay. `exit` must already exclude BadExit relays (C tor bug 2203).
    pub fn add(&mut self, bandwidth_kb: u32, exit: bool, guard: bool) {
        let bw = i64::from(bandwidth_kb);
        self.t += bw;
        match (exit, guard) {
            (true, true) => self.d += bw,
            (true, false) => self.e += bw,
            (false, true) => self.g += bw,
            (false, false) => self.m += bw,
        }
    }
}

/// The seven independent weights; the other twelve of the line are derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    /// Wgg.
    pub wgg: i64,
    /// Wgd.
    pub wgd: i64,
    /// Wmg.
    pub wmg: i64,
    /// Wme.
    pub wme: i64,
    /// Wmd.
    pub wmd: i64,
    /// Wee.
    pub wee: i64,
    /// Wed.
    pub wed: i64,
    /// The scale (`bwweightscale`).
    pub scale: i64,
    /// Which case of §3.8.3 applied, as C tor names it in its log.
    pub case: &'static str,
}

impl Weights {
    /// The `bandwidth-weights` arguments as a sorted map, as `Consensus::bandwidth_weights`
    /// holds them.
    pub fn to_map(&self) -> BTreeMap<String, i32> {
        let s = self.scale;
        let v = [
            ("Wbd", self.wmd),
            ("Wbe", self.wme),
            ("Wbg", self.wmg),
            ("Wbm", s),
            ("Wdb", s),
            ("Web", s),
            ("Wed", self.wed),
            ("Wee", self.wee),
            ("Weg", self.wed),
            ("Wem", self.wee),
            ("Wgb", s),
            ("Wgd", self.wgd),
            ("Wgg", self.wgg),
            ("Wgm", self.wgg),
            ("Wmb", s),
            ("Wmd", self.wmd),
            ("Wme", self.wme),
            ("Wmg", self.wmg),
            ("Wmm", s),
        ];
        v.iter()
            .map(|(k, w)| (k.to_string(), i32::try_from(*w).unwrap_or(i32::MAX)))
            .collect()
    }

    /// The whole line, `bandwidth-weights Wbd=… … Wmm=…` (no newline).
    pub fn line(&self) -> String {
        let mut s = String::from("bandwidth-weights");
        for (k, v) in self.to_map() {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

fn near(a: i64, b: i64, margin: i64) -> bool {
    (a - b).abs() <= margin
}

/// C tor's `networkstatus_check_weights` with margin 10 and balancing on; `Ok` or whether only
/// the middle balance failed (`Err(true)`) or something else (`Err(false)`).
fn check(w: &Weights, t: &Totals) -> Result<(), bool> {
    let (s, margin) = (w.scale, 10);
    if !near(w.wed + w.wmd + w.wgd, s, margin)
        || !near(w.wmg + w.wgg, s, margin)
        || !near(w.wme + w.wee, s, margin)
    {
        return Err(false);
    }
    let all = [w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wed, w.wee];
    if all.iter().any(|x| *x < 0 || *x > s) {
        return Err(false);
    }
    let bal = (margin * t.t) / 3;
    if !near(w.wgg * t.g + w.wgd * t.d, w.wee * t.e + w.wed * t.d, bal) {
        return Err(false);
    }
    if !near(
        w.wgg * t.g + w.wgd * t.d,
        t.m * s + w.wmd * t.d + w.wme * t.e + w.wmg * t.g,
        bal,
    ) {
        return Err(true);
    }
    Ok(())
}

/// Computes the weights, or `None` where C tor leaves the line out: any of G, M, E, D zero
/// (small test networks often have no guard-only or no exit-only relays) or a case whose
/// weights fail C tor's checks.
pub fn compute(t: &Totals, scale: i64) -> Option<Weights> {
    let Totals { g, m, e, d, t: tt } = *t;
    if g <= 0 || m <= 0 || e <= 0 || d <= 0 || scale <= 0 {
        return None;
    }
    let mut w = Weights {
        wgg: -1,
        wgd: -1,
        wmg: -1,
        wme: -1,
        wmd: -1,
        wee: -1,
        wed: -1,
        scale,
        case: "",
    };
    if 3 * e >= tt && 3 * g >= tt {
        w.case = "Case 1 (Wgd=Wmd=Wed)";
        w.wgd = scale / 3;
        w.wed = scale / 3;
        w.wmd = scale / 3;
        w.wee = (scale * (e + g + m)) / (3 * e);
        w.wme = scale - w.wee;
        w.wmg = (scale * (2 * g - e - m)) / (3 * g);
        w.wgg = scale - w.wmg;
        check(&w, t).ok()?;
    } else if 3 * e < tt && 3 * g < tt {
        let r = e.min(g);
        let s = e.max(g);
        if r + d < s {
            w.wgg = scale;
            w.wee = scale;
            w.wmg = 0;
            w.wme = 0;
            w.wmd = 0;
            if e < g {
                w.case = "Case 2a (E scarce)";
                w.wed = scale;
                w.wgd = 0;
            } else {
                w.case = "Case 2a (G scarce)";
                w.wed = 0;
                w.wgd = scale;
            }
        } else {
            w.case = "Case 2b1 (Wgg=weight_scale, Wmd=Wgd)";
            w.wee = (scale * (e - g + m)) / e;
            w.wed = (scale * (d - 2 * e + 4 * g - 2 * m)) / (3 * d);
            w.wme = (scale * (g - m)) / e;
            w.wmg = 0;
            w.wgg = scale;
            w.wmd = (scale - w.wed) / 2;
            w.wgd = (scale - w.wed) / 2;
            let mut res = check(&w, t);
            if res.is_err() {
                w.case = "Case 2b2 (Wgg=weight_scale, Wee=weight_scale)";
                w.wgg = scale;
                w.wee = scale;
                w.wed = (scale * (d - 2 * e + g + m)) / (3 * d);
                w.wmd = (scale * (d - 2 * m + g + e)) / (3 * d);
                w.wme = 0;
                w.wmg = 0;
                if w.wmd < 0 {
                    w.case = "Case 2b3 (Wmd=0)";
                    w.wmd = 0;
                }
                w.wgd = scale - w.wed - w.wmd;
                res = check(&w, t);
            }
            // C tor tolerates a failed middle balance here.
            if let Err(false) = res {
                return None;
            }
        }
    } else {
        let s = e.min(g);
        if 3 * (s + d) < tt {
            if g < e {
                w.case = "Case 3a (G scarce)";
                w.wgg = scale;
                w.wgd = scale;
                w.wmd = 0;
                w.wed = 0;
                w.wmg = 0;
                w.wme = if e < m {
                    0
                } else {
                    (scale * (e - m)) / (2 * e)
                };
                w.wee = scale - w.wme;
            } else {
                w.case = "Case 3a (E scarce)";
                w.wee = scale;
                w.wed = scale;
                w.wmd = 0;
                w.wgd = 0;
                w.wme = 0;
                w.wmg = if g < m {
                    0
                } else {
                    (scale * (g - m)) / (2 * g)
                };
                w.wgg = scale - w.wmg;
            }
        } else {
            if g < e {
                w.case = "Case 3bg (G scarce, Wgg=weight_scale, Wmd == Wed)";
                w.wgg = scale;
                w.wgd = (scale * (d - 2 * g + e + m)) / (3 * d);
                w.wmg = 0;
                w.wee = (scale * (e + m)) / (2 * e);
                w.wme = scale - w.wee;
                w.wmd = (scale - w.wgd) / 2;
                w.wed = (scale - w.wgd) / 2;
            } else {
                w.case = "Case 3be (E scarce, Wee=weight_scale, Wmd == Wgd)";
                w.wee = scale;
                w.wed = (scale * (d - 2 * e + g + m)) / (3 * d);
                w.wme = 0;
                w.wgg = (scale * (g + m)) / (2 * g);
                w.wmg = scale - w.wgg;
                w.wmd = (scale - w.wed) / 2;
                w.wgd = (scale - w.wed) / 2;
            }
            check(&w, t).ok()?;
        }
    }
    if scale > i64::from(i32::MAX) {
        return None;
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(g: i64, m: i64, e: i64, d: i64) -> Totals {
        Totals {
            g,
            m,
            e,
            d,
            t: g + m + e + d,
        }
    }

    #[test]
    fn case1_worked() {
        // G=E=2000, M=D=1000, T=6000: 3E >= T and 3G >= T, neither scarce.
        // Wee = 10000*5000/6000 = 8333, Wme = 1667, Wmg = 10000*(4000-3000)/6000 = 1666,
        // Wgg = 8334, Wgd = Wed = Wmd = 3333. Balance within 10*T/3 = 20000:
        // Wgg*G+Wgd*D = 20001000; Wee*E+Wed*D = 19999000; M*s+Wmd*D+Wme*E+Wmg*G = 19999000.
        let w = compute(&t(2000, 1000, 2000, 1000), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(w.case, "Case 1 (Wgd=Wmd=Wed)");
        assert_eq!(
            (w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wee, w.wed),
            (8334, 3333, 1666, 1667, 3333, 8333, 3333)
        );
        assert_eq!(
            w.line(),
            "bandwidth-weights Wbd=3333 Wbe=1667 Wbg=1666 Wbm=10000 Wdb=10000 Web=10000 \
             Wed=3333 Wee=8333 Weg=3333 Wem=8333 Wgb=10000 Wgd=3333 Wgg=8334 Wgm=8334 \
             Wmb=10000 Wmd=3333 Wme=1667 Wmg=1666 Wmm=10000"
        );
    }

    #[test]
    fn case1_rounding() {
        // G=3000 M=1000 E=2000 D=1000, T=7000: 3E=6000<7000, so not case 1: case 3 (E scarce),
        // S=E=2000, 3*(S+D)=9000 >= T: 3be.
        // Wed = 10000*(1000-4000+3000+1000)/3000 = 10000000/3000 = 3333
        // Wgg = 10000*4000/6000 = 6666, Wmg = 3334, Wmd = Wgd = (10000-3333)/2 = 3333.
        let w = compute(&t(3000, 1000, 2000, 1000), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(w.case, "Case 3be (E scarce, Wee=weight_scale, Wmd == Wgd)");
        assert_eq!(
            (w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wee, w.wed),
            (6666, 3333, 3334, 0, 3333, 10000, 3333)
        );
    }

    #[test]
    fn case1_uneven() {
        // G=4000 M=1000 E=3000 D=1000, T=9000: 3E=9000>=T, 3G=12000>=T: case 1.
        // Wee = 10000*8000/9000 = 8888, Wme = 1112,
        // Wmg = 10000*(8000-3000-1000)/12000 = 40000000/12000 = 3333, Wgg = 6667.
        let w = compute(&t(4000, 1000, 3000, 1000), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(
            (w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wee, w.wed),
            (6667, 3333, 3333, 1112, 3333, 8888, 3333)
        );
    }

    #[test]
    fn case2a() {
        // G=100 E=200 D=50 M=10000: both scarce, R+D=150 < S=200, E >= G: "G scarce".
        let w = compute(&t(100, 10000, 200, 50), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(w.case, "Case 2a (G scarce)");
        assert_eq!((w.wed, w.wgd, w.wgg, w.wee), (0, 10000, 10000, 10000));
    }

    #[test]
    fn case2b() {
        // G=1000 E=1000 D=1000 M=1500, T=4500: 3E=3000<T, 3G<T; R+D=2000 >= S.
        // 2b1: Wee = 10000*(1000-1000+1500)/1000 = 15000 > scale: range error -> 2b2:
        // Wed = 10000*(1000-2000+1000+1500)/3000 = 5000, Wmd = 10000*(1000-3000+2000)/3000 = 0,
        // Wgd = 5000.
        let w = compute(&t(1000, 1500, 1000, 1000), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(w.case, "Case 2b2 (Wgg=weight_scale, Wee=weight_scale)");
        assert_eq!(
            (w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wee, w.wed),
            (10000, 5000, 0, 0, 0, 10000, 5000)
        );
    }

    #[test]
    fn case3a() {
        // G=100 M=5000 E=5000 D=100, T=10200: G scarce, 3(S+D)=600 < T: 3a (G scarce);
        // E >= M: Wme = 10000*(0)/10000 = 0.
        let w = compute(&t(100, 5000, 5000, 100), BW_WEIGHT_SCALE).unwrap();
        assert_eq!(w.case, "Case 3a (G scarce)");
        assert_eq!((w.wgg, w.wgd, w.wme, w.wee), (10000, 10000, 0, 10000));
    }

    #[test]
    fn empty_role_has_no_line() {
        assert!(compute(&t(0, 1000, 1000, 1000), BW_WEIGHT_SCALE).is_none());
        assert!(compute(&t(1000, 1000, 1000, 0), BW_WEIGHT_SCALE).is_none());
    }

    #[test]
    fn totals_add() {
        let mut x = Totals::default();
        x.add(10, true, true);
        x.add(20, true, false);
        x.add(30, false, true);
        x.add(40, false, false);
        assert_eq!(x, t(30, 40, 20, 10));
    }

    proptest::proptest! {
        #[test]
        fn weights_in_range(g in 1i64..1_000_000, m in 1i64..1_000_000, e in 1i64..1_000_000, d in 1i64..1_000_000) {
            if let Some(w) = compute(&t(g, m, e, d), BW_WEIGHT_SCALE) {
                for x in [w.wgg, w.wgd, w.wmg, w.wme, w.wmd, w.wee, w.wed] {
                    proptest::prop_assert!((0..=BW_WEIGHT_SCALE).contains(&x));
                }
                proptest::prop_assert_eq!(w.to_map().len(), 19);
            }
        }
    }
}
