"""The pytest plugin (lab/pytest_plugin.py): fixtures, options, reports, KTAP."""


def test_plugin_fixtures_and_options_are_registered(pytester):
    pytester.makepyfile(test_x="""
        def test_uses(request):
            assert request.config.getoption("--lab-accel") == "tcg"
            assert request.config.getoption("--lab-repeat") == 3
    """)
    r = pytester.runpytest("--lab-accel", "tcg", "--lab-repeat", "3", "--lab-ktap")
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["KTAP version 1", "1..1", "ok 1 test_x.py::test_uses"])
    f = pytester.runpytest("--fixtures")
    for name in ("lab_kernel", "lab_vm", "lab_link", "lab_measure", "lab_accel"):
        f.stdout.fnmatch_lines([f"*{name}*"])


def test_failing_guest_command_report_is_readable(pytester):
    """A GuestError raised in a test shows the guest command, its exit code and its output."""
    pytester.makepyfile(test_y="""
        from lab.errors import GuestError
        def test_fails():
            raise GuestError("guest command failed (rc=2): ip netns exec virtio0a ping 198.18.0.2\\n"
                             "--- stdout ---\\n\\n--- stderr ---\\nconnect: Network is unreachable")
    """)
    r = pytester.runpytest("--lab-ktap")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*guest command failed (rc=2): ip netns exec virtio0a ping*",
                            "*Network is unreachable*", "not ok 1 test_y.py::test_fails"])


def test_ktap_reports_a_fixture_that_fails_to_set_up_or_tear_down(pytester):
    pytester.makepyfile(test_z="""
        import pytest
        @pytest.fixture
        def guest():
            raise RuntimeError("guest did not boot")
        @pytest.fixture
        def leaky():
            yield 1
            raise RuntimeError("teardown failed")
        def test_boot(guest):
            pass
        def test_leak(leaky):
            pass
        def test_fine():
            pass
    """)
    r = pytester.runpytest("--lab-ktap")
    r.stdout.fnmatch_lines(["KTAP version 1", "1..3", "not ok 1 test_z.py::test_boot", "not ok 2 test_z.py::test_leak",
                            "ok 3 test_z.py::test_fine"])


def test_plugin_refuses_a_remote_lab_target_by_name(pytester, tmp_path):
    for f in ("key", "known_hosts"):
        (tmp_path / f).write_text("")
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("targets:\n  kvm1:\n    kind: remote-lab\n    ssh: ssh://root@kvm1.example\n    key: key\n"
                     "    known_hosts: known_hosts\n")
    pytester.makepyfile(test_z="def test_z(lab_target):\n    assert lab_target is None\n")
    r = pytester.runpytest("--lab-target", "kvm1", "--lab-hosts", str(hosts))
    assert r.ret != 0 and "--lab-target kvm1: a remote-lab target" in r.stdout.str() + r.stderr.str()


def test_the_session_guest_is_planned_as_a_testcase_with_both_links_would_be(monkeypatch):
    """lab_vm's stand-in testcase goes through guest_setup like a real one (a key it lacks broke every `booted`
    test once): both links, the default backend."""
    import lab.vm.env as env
    from lab.pytest_plugin import BOTH_LINKS
    from lab.runner import RunOptions
    monkeypatch.setattr(env, "resolve_kernel", lambda k, **kw: k)
    monkeypatch.setattr(env, "vm_config", lambda spec, kernel, say: (spec, {}))
    for mode in ("wallclock", "deterministic"):
        _, spec, _ = env.guest_setup(BOTH_LINKS, RunOptions(mode=mode))
        assert spec.links == ["virtio", "e1000e"] and spec.backend is None
