"""Statistics for A/B verdicts: summary stats, Welch's t interval for the difference of means.

Student's t quantiles come from the regularized incomplete beta function (continued fraction,
Numerical Recipes' betacf), so no SciPy is needed and results are deterministic.
"""
import math
import statistics
from dataclasses import asdict, dataclass

CONFIDENCE = 0.95
NOISY_CV_PCT = 10.0      # a cell whose CV exceeds this is flagged noisy
MIN_EFFECT_PCT = 2.0     # default; each measurement mode sets its own (lab/modes.py)


def _betacf(a, b, x, itmax=300, eps=3e-14):
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, itmax + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > 1e-300 else 1e-300
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1 - x) / b


def t_cdf(t, df):
    x = df / (df + t * t)
    p = 0.5 * betainc(df / 2, 0.5, x)
    return 1 - p if t > 0 else p


def t_pdf(t, df):
    return math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
                    - (df + 1) / 2 * math.log1p(t * t / df))


def t_quantile(p, df):
    """Inverse of t_cdf (p in (0.5, 1)): bracket until the CDF passes p, then Newton steps kept inside the
    bracket (bisection where a step would leave it)."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
        if hi > 1e12:
            return math.inf
    x = (lo + hi) / 2
    for _ in range(100):
        f = t_cdf(x, df) - p
        if f < 0:
            lo = x
        else:
            hi = x
        step = f / t_pdf(x, df)
        nxt = x - step
        if not lo < nxt < hi:
            nxt = (lo + hi) / 2
        if abs(nxt - x) <= 1e-13 * max(1.0, abs(x)):
            return nxt
        x = nxt
    return x


def t_pvalue(t, df):
    """Two-sided p-value of Student's t with df degrees of freedom."""
    return betainc(df / 2, 0.5, df / (df + t * t))


def benjamini_hochberg(pvalues, q=0.05):
    """Indices of the hypotheses rejected at false discovery rate q (Benjamini-Hochberg step-up)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    m, k = len(pvalues), 0
    for rank, i in enumerate(order, 1):
        if pvalues[i] <= rank / m * q:
            k = rank
    return set(order[:k])


def holm(pvalues, alpha=0.05):
    """Indices of the hypotheses rejected with family-wise error alpha (Holm step-down)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    m, out = len(pvalues), set()
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (m - rank):
            break
        out.add(i)
    return out


@dataclass
class Summary:
    n: int
    median: float | None
    mean: float | None
    stdev: float | None
    cv_pct: float | None
    min: float | None
    max: float | None

    @property
    def noisy(self):
        return self.cv_pct is not None and self.cv_pct > NOISY_CV_PCT


def summarize(values):
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return Summary(0, None, None, None, None, None, None)
    mean = statistics.mean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else None
    cv = 100 * sd / abs(mean) if sd is not None and mean else None
    return Summary(len(xs), statistics.median(xs), mean, sd, cv, min(xs), max(xs))


@dataclass
class Comparison:
    """B relative to A: change of means in %, its CI (Welch), and the verdict."""

    a: Summary
    b: Summary
    change_pct: float | None
    ci_low_pct: float | None
    ci_high_pct: float | None
    df: float | None
    verdict: str          # faster | slower | not significant | insufficient data (+ noisy flag separately)
    noisy: bool
    p_value: float | None = None  # two-sided, of "no change in means"
    method: str = "welch-t"

    def as_dict(self):
        d = asdict(self)
        d["a_stats"], d["b_stats"] = d.pop("a"), d.pop("b")
        return d


def welch_interval(a, b, confidence=CONFIDENCE, floor=0.0):
    """(difference of means B - A, half-width of its Welch interval, df, p) of two Summaries, each standard
    deviation at least `floor` (absolute); None when the data cannot make an interval."""
    if a.n < 2 or b.n < 2 or (a.stdev == 0 and b.stdev == 0 and min(a.n, b.n) < 3):
        return None
    sa, sb = max(a.stdev, floor), max(b.stdev, floor)
    va, vb = sa ** 2 / a.n, sb ** 2 / b.n
    se = math.sqrt(va + vb)
    if se == 0:
        return None
    df = (va + vb) ** 2 / ((va ** 2 / (a.n - 1) if va else 0) + (vb ** 2 / (b.n - 1) if vb else 0))
    diff = b.mean - a.mean
    return diff, t_quantile(1 - (1 - confidence) / 2, df) * se, df, t_pvalue(diff / se, df)


def log_ratio_interval(a, b, confidence=CONFIDENCE, floor_pct=0.0):
    """(log of mean(B)/mean(A), half-width of its interval, df, p) for positive samples: the delta method on the
    log scale (relative standard errors, Welch-Satterthwaite df), each relative deviation at least `floor_pct`;
    None when the data cannot make an interval. exp() of its ends bounds the change above -100 %."""
    if a.n < 2 or b.n < 2 or (a.stdev == 0 and b.stdev == 0 and min(a.n, b.n) < 3):
        return None
    ra, rb = max(a.stdev / a.mean, floor_pct / 100), max(b.stdev / b.mean, floor_pct / 100)
    va, vb = ra ** 2 / a.n, rb ** 2 / b.n
    se = math.sqrt(va + vb)
    if se == 0:
        return None
    df = (va + vb) ** 2 / ((va ** 2 / (a.n - 1) if va else 0) + (vb ** 2 / (b.n - 1) if vb else 0))
    lr = math.log(b.mean / a.mean)
    return lr, t_quantile(1 - (1 - confidence) / 2, df) * se, df, t_pvalue(lr / se, df)


def welch(a_values, b_values, higher_is_better=True, confidence=CONFIDENCE, min_effect_pct=MIN_EFFECT_PCT,
          resolution_pct=0.0):
    """The change of mean(B) relative to mean(A) with its interval, and a verdict. Positive quantities (every
    value > 0: rates, counts, instructions) get the interval of the ratio on the log scale, so it never reaches
    -100 %; others Welch's interval of the difference, relative to mean(A).

    `resolution_pct`: the smallest spread a series can honestly show (a relative standard deviation floor):
    identical repeats do not make a zero-width interval. Identical repeats on both sides with fewer than 3
    each are insufficient data whatever the floor."""
    a, b = summarize(a_values), summarize(b_values)
    noisy = a.noisy or b.noisy
    change = 100 * (b.mean - a.mean) / abs(a.mean) if a.mean and b.mean is not None else None
    positive = a.n and b.n and a.min > 0 and b.min > 0
    if positive:
        iv, method = log_ratio_interval(a, b, confidence, resolution_pct), "welch-t log ratio"
    else:
        iv, method = (welch_interval(a, b, confidence, abs(a.mean or 0) * resolution_pct / 100) if a.mean else None,
                      "welch-t")
    if iv is None:
        return Comparison(a, b, change, None, None, None, "insufficient data", noisy)
    diff, half, df, p = iv
    if positive:
        lo, hi = 100 * math.expm1(diff - half), 100 * math.expm1(diff + half)
    else:
        rel = 100 / abs(a.mean)
        lo, hi = (diff - half) * rel, (diff + half) * rel
        if a.n and b.n and a.min >= 0 and b.min >= 0:  # a count that reached 0: it cannot fall below -100 %
            lo = max(lo, -100.0)
    significant = (lo > 0 or hi < 0) and abs(change) >= min_effect_pct
    if not significant:
        verdict = "not significant"
    else:
        verdict = "faster" if (change > 0) == higher_is_better else "slower"
    return Comparison(a, b, change, lo, hi, df, verdict, noisy, p, method)
