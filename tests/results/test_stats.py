"""Statistics (lab/results/stats.py): summaries, t quantiles, Welch's and the log-ratio interval, multiple testing."""
import math

import pytest

from lab.results.stats import benjamini_hochberg, holm, summarize, t_pvalue, t_quantile, welch, welch_interval


@pytest.mark.parametrize("df,t", [(1, 12.7062), (2, 4.3027), (4, 2.7764), (10, 2.2281), (30, 2.0423), (1000, 1.9623)])
def test_t_quantiles_match_tables(df, t):
    assert t_quantile(0.975, df) == pytest.approx(t, abs=1e-3)


def test_summary():
    s = summarize([10, 12, 14])
    assert (s.n, s.median, s.mean, s.stdev) == (3, 12, 12, 2) and s.cv_pct == pytest.approx(16.667, abs=1e-3)
    assert s.noisy and not summarize([100, 101, 99]).noisy


def test_welch_known_interval():
    # A = [10, 12, 14], B = [20, 22, 24]: diff 10, se = sqrt(4/3 + 4/3) = 1.633, df = 4, t = 2.7764
    diff, half, df, _ = welch_interval(summarize([10, 12, 14]), summarize([20, 22, 24]))
    assert (diff, df) == (pytest.approx(10.0), pytest.approx(4.0))
    assert half == pytest.approx(2.7764 * (8 / 3) ** 0.5, abs=1e-3)
    # the verdict's interval is the ratio's on the log scale: relative sds 2/12 and 2/22, se = sqrt((1/36 + 1/121)/3)
    c = welch([10, 12, 14], [20, 22, 24])
    se = ((1 / 36 + 1 / 121) / 3) ** 0.5
    df = (1 / 36 + 1 / 121) ** 2 / 3 ** 2 / (((1 / 36) ** 2 + (1 / 121) ** 2) / 3 ** 2 / 2)
    t = t_quantile(0.975, df)
    assert c.df == pytest.approx(df) and c.method == "welch-t log ratio"
    assert c.change_pct == pytest.approx(100 * 10 / 12)
    assert c.ci_low_pct == pytest.approx(100 * (22 / 12 * math.exp(-t * se) - 1), rel=1e-9)
    assert c.ci_high_pct == pytest.approx(100 * (22 / 12 * math.exp(t * se) - 1), rel=1e-9)
    assert c.verdict == "faster"
    assert welch([10, 12, 14], [20, 22, 24], higher_is_better=False).verdict == "slower"


def test_welch_not_significant_and_min_effect():
    assert welch([10, 12, 14], [11, 13, 15]).verdict == "not significant"       # CI spans 0
    assert welch([100.0, 100.1, 100.2], [101.0, 101.1, 101.2]).verdict == "not significant"  # 1 % < min effect
    assert welch([1.0], [2.0]).verdict == "insufficient data"


def test_identical_repeats_are_insufficient_data_not_a_confident_verdict():
    assert welch([2500, 2500], [2510, 2510]).verdict == "insufficient data"
    # with 3 identical repeats a side the mode's resolution floor keeps the interval honest
    c = welch([2500] * 3, [2550] * 3, min_effect_pct=1.0, resolution_pct=0.05)
    assert c.verdict == "faster" and c.ci_low_pct < c.change_pct < c.ci_high_pct
    c = welch([2500] * 3, [2501] * 3, min_effect_pct=1.0, resolution_pct=0.05)
    assert c.verdict == "not significant" and c.ci_low_pct < 0 < c.ci_high_pct


@pytest.mark.parametrize("p,df,t", [(0.99995, 1, 6366.1977), (0.9995, 1, 636.6192), (0.975, 1.5, 6.016663),
                                    (0.975, 2.7, 3.392148), (0.995, 3.3, 5.344306)])
def test_t_quantile_far_tails_and_fractional_df(p, df, t):
    """Reference values: scipy.stats.t.ppf. The old bisection stopped at 1000."""
    assert t_quantile(p, df) == pytest.approx(t, rel=1e-6)


def test_welch_unequal_n_unequal_variance_fractional_df():
    """scipy.stats.ttest_ind(b, a, equal_var=False): df 7.83317, 95 % CI of the difference [0.95411, 2.61089],
    p 0.0011486."""
    a = [10.1, 10.3, 9.8, 10.0, 10.2]
    b = [11.0, 12.5, 10.2, 13.1, 11.8, 12.0, 11.4, 12.9]
    diff, half, df, p = welch_interval(summarize(a), summarize(b))
    assert df == pytest.approx(7.833166, rel=1e-6)
    assert diff - half == pytest.approx(0.954113, rel=1e-5) and diff + half == pytest.approx(2.610887, rel=1e-5)
    assert p == pytest.approx(0.0011486, rel=1e-3) and welch(a, b).verdict == "faster"
    assert t_pvalue(0.0, 3) == pytest.approx(1.0)


def test_benjamini_hochberg_and_holm_known_answers():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # BH at 5 %: sorted 0.005 .01 .03 .04 .5 vs .01 .02 .03 .04 .05 -> the first four
    assert benjamini_hochberg(p, 0.05) == {0, 1, 2, 3}
    # Holm at 5 %: 0.005 <= .01, 0.01 <= .0125, 0.03 > .0167 stops
    assert holm(p, 0.05) == {3, 0}


def test_the_interval_of_a_relative_change_never_crosses_minus_100():
    from lab.results.stats import welch
    # the report's TCP segments per packet: -97.6 %, with a spread that made the linear interval reach -105.7 %
    c = welch([1.00, 1.10, 0.95], [0.030, 0.022, 0.019], higher_is_better=False)
    assert -100 < c.ci_low_pct < c.change_pct < c.ci_high_pct < 0 and c.verdict == "faster"
    assert c.method == "welch-t log ratio"
    # a count that fell to 0 (no log ratio): the interval stops at -100 %, the bound of what a count can do
    z = welch([3.0, 4.0, 3.5], [0.0, 0.0, 0.1])
    assert z.ci_low_pct == -100.0 and z.change_pct > -100 and z.method == "welch-t"
