#!/usr/bin/env python3
"""Copies the real sample events the pack's tests use from shared/data/okta-logs into rules/tests/samples/.

Lines are copied verbatim (byte for byte) from
  shared/data/okta-logs/panther-analysis/rule-tests/panther-rule-tests.ndjson (panther-labs/panther-analysis,
  Apache-2.0; line numbers below are those of the .meta.ndjson, which names the Panther rule and test)
  shared/data/okta-logs/panther-analysis/scenarios/** (same origin)
  shared/data/okta-logs/okta-openapi-examples/spec-logevent-examples.ndjson (Okta OpenAPI spec, Apache-2.0)
Re-run: python3 rules/tests/extract_samples.py [SHARED_DATA_DIR] (default ../shared/data from the repo root).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data")
LOGS = os.path.join(DATA, "okta-logs")
PANTHER = os.path.join(LOGS, "panther-analysis", "rule-tests", "panther-rule-tests.ndjson")
SCEN = os.path.join(LOGS, "panther-analysis", "scenarios")

# output name -> Panther rule-test line numbers (1-based)
PANTHER_CASES = {
    "support_access_granted": [1], "login_event": [2],
    "global_mfa_disabled": [3],
    "admin_role_granted": [5, 6],
    "anonymizing_proxy": [8, 9], "no_proxy_failed_login": [7],
    "api_token_created": [10], "api_token_revoked": [11],
    "group_privilege_grant": [16], "app_token_reuse": [17],
    "fastpass_phishing_blocked": [40], "mfa_invalid_credentials": [39],
    "support_reset_password": [50], "admin_reset_password": [51],
    "threat_detected": [53, 54], "rate_limit_exceeded": [52],
    "account_locked": [55],
    "mfa_factor_suspended": [57], "mfa_factors_reset_all": [61],
    "mfa_factor_deactivated_self": [59], "mfa_factor_update": [122],
    "suspicious_activity_reported": [64],
    "signin_russia": [127], "signin_canada": [124],
}

SCENARIOS = {
    "brute_force_logins": ["okta-add-administrator/brute_force_logins.ndjson"],
    "legit_logins": ["okta-add-administrator/legit_login.ndjson"],
    "takeover_then_admin_grant": ["okta-add-administrator/brute_force_logins.ndjson",
                                  "okta-add-administrator/admin_privs_assigned.ndjson"],
    "admin_grant_without_attack": ["okta-add-administrator/legit_login.ndjson",
                                   "okta-add-administrator/admin_privs_assigned.ndjson"],
    "attacker_failures": ["compromised-root-creds/attacker_okta.ndjson"],
}


def main():
    out = os.path.join(HERE, "samples")
    os.makedirs(out, exist_ok=True)
    with open(PANTHER, "rb") as f:
        lines = f.read().split(b"\n")
    for name, nums in PANTHER_CASES.items():
        with open(os.path.join(out, name + ".ndjson"), "wb") as f:
            for n in nums:
                f.write(lines[n - 1] + b"\n")
    for name, files in SCENARIOS.items():
        with open(os.path.join(out, name + ".ndjson"), "wb") as f:
            for rel in files:
                with open(os.path.join(SCEN, rel), "rb") as src:
                    data = src.read()
                f.write(data if data.endswith(b"\n") else data + b"\n")
    with open(os.path.join(LOGS, "okta-openapi-examples", "spec-logevent-examples.ndjson"), "rb") as src:
        data = src.read()
    with open(os.path.join(out, "spec_examples.ndjson"), "wb") as f:
        f.write(data if data.endswith(b"\n") else data + b"\n")


if __name__ == "__main__":
    main()
