"""Requests per instance: the Flex HTTP per-instance concurrency and the Python worker's threads are
set on purpose (docs/deploy.md, "Per-instance concurrency"), and the threads can serve them all."""

import re

from tests.unit.infra.bicep import ROOT

CONCURRENCY = "httpPerInstanceConcurrency"
THREADS = "pythonThreadpoolThreadCount"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def _scale(template) -> dict:
    _, site = template.one("Microsoft.Web/sites")
    return template.body(site)["properties"]["functionAppConfig"]["scaleAndConcurrency"]


def test_the_site_takes_its_http_per_instance_concurrency_from_the_parameter(template):
    assert _scale(template)["triggers"] == {"http": {"perInstanceConcurrency": CONCURRENCY}}
    assert template.params[CONCURRENCY]["type"] == "int"
    assert template.decorator(CONCURRENCY, "min_value") == 1
    assert template.decorator(CONCURRENCY, "max_value") == 1000  # Flex's range
    assert template.decorator(CONCURRENCY, "description")


def test_the_worker_thread_count_is_an_unconditional_app_setting_from_the_parameter(template, app_settings):
    (value, condition), *others = app_settings["PYTHON_THREADPOOL_THREAD_COUNT"]
    assert not others and condition is None
    assert template.params[THREADS]["type"] == "int"
    assert template.decorator(THREADS, "min_value") == 1
    assert template.decorator(THREADS, "description")
    assert template.evaluate(value) == str(template.param_default(THREADS))
    assert template.evaluate(value, {THREADS: 24}) == "24"


def test_threads_can_serve_every_request_an_instance_is_sent_at_once(template):
    concurrency, threads = template.param_default(CONCURRENCY), template.param_default(THREADS)
    assert concurrency > 1, "Python's Flex default (1 request per instance) spreads one burst over many instances"
    assert threads >= concurrency, f"{threads} threads for {concurrency} requests at once: the rest would wait"


def test_the_measured_choice_fits_the_instance_memory(template):
    # the choice was measured against the default 2,048 MB instance (docs/performance.md, "Requests per instance")
    assert template.param_default("instanceMemoryMB") == 2048


def test_the_deploy_guide_states_the_defaults_the_template_has(template):
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    section = re.search(r"^## Per-instance concurrency\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "docs/deploy.md lost its 'Per-instance concurrency' section"
    body = section.group(1)
    for name in (CONCURRENCY, THREADS):
        assert f"`{name}`" in body, name
        assert re.search(rf"`{name}`[^\n]*\b{template.param_default(name)}\b", body), name
