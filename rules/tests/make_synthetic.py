#!/usr/bin/env python3
"""Writes the hand-built (synthetic) test sequences of the rule pack: rules/tests/synthetic/*.synthetic.ndjson.

The shared corpus has no events for these behaviours (see shared/data/README.md, "Gap"), so they are
built by hand. Every event follows the LogEvent shape of the Panther samples
(shared/data/okta-logs/panther-analysis/rule-tests/panther-rule-tests.ndjson): the same keys, nesting
and value types; only eventType, outcome, actor, client, securityContext and debugData values vary.
Names, ids and addresses are invented (documentation ranges 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24 and private ASNs where possible). Third-party alerts use the examples/alerts shapes
inside the {"alert_source", "alert"} envelope that `oktaguard rules test` reads.

Re-run after editing: python3 rules/tests/make_synthetic.py (the output is committed).

Not written here, kept as committed: the regression sequences built from Panther's samples for false
positives of the pack (stolen_session_panther_43_44, session_commute_then_browser_update,
edr_low_severity_then_signin, own_typos_then_admin_grant, unknown_login_failures).
"""
import json
import os
from datetime import datetime, timedelta, timezone

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic")
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)

USERS = {
    "alice": ("00usyn1alice0000001", "alice@example.com", "Alice Example"),
    "bob": ("00usyn1bob000000002", "bob@example.com", "Bob Example"),
    "carol": ("00usyn1carol0000003", "carol@example.com", "Carol Example"),
    "admin": ("00usyn1admin0000009", "it.admin@example.com", "IT Admin"),
}

PLACES = {
    # city, state, country, lat, lon, asn, org, domain
    "nyc": ("New York", "New York", "United States", 40.7128, -74.006, 64512, "example isp east", "isp-east.example"),
    "sf": ("San Francisco", "California", "United States", 37.7749, -122.4194, 64513, "example isp west", "isp-west.example"),
    "london": ("London", "England", "United Kingdom", 51.5072, -0.1276, 64520, "example uk telecom", "uk.example"),
    "sydney": ("Sydney", "New South Wales", "Australia", -33.8688, 151.2093, 64530, "example au net", "au.example"),
    "moscow": ("Moscow", "Moscow", "Russia", 55.752, 37.615, 64540, "example ru net", "ru.example"),
}

CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36", "Mac OS X", "CHROME")
FIREFOX_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Windows 10",
               "FIREFOX")
PY_REQUESTS = ("python-requests/2.31.0", "Unknown", "UNKNOWN")

_seq = [0]


def ts(minutes=0.0):
    t = T0 + timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def event(event_type, minutes, user="alice", result="SUCCESS", reason=None, ip="192.0.2.10", place="nyc",
          ua=CHROME_MAC, session="102syn-session-alice-1", proxy=False, debug=None, targets=None,
          display="", actor=None, asn=None):
    _seq[0] += 1
    city, state, country, lat, lon, default_asn, org, domain = PLACES[place]
    if actor is None:
        uid, login, name = USERS[user]
        actor = {"alternateId": login, "displayName": name, "id": uid, "type": "User"}
    geo = {"city": city, "country": country, "geolocation": {"lat": lat, "lon": lon}, "postalCode": "00000",
           "state": state}
    outcome = {"result": result}
    if reason:
        outcome["reason"] = reason
    dd = {"requestId": f"syn-req-{_seq[0]}", "requestUri": "/idp/idx/identify", "threatSuspected": "false",
          "url": "/idp/idx/identify?"}
    dd.update(debug or {})
    e = {
        "actor": actor,
        "authenticationContext": {"authenticationStep": 0, "externalSessionId": session},
        "client": {"device": "Computer", "geographicalContext": geo, "ipAddress": ip,
                   "userAgent": {"browser": ua[2], "os": ua[1], "rawUserAgent": ua[0]}, "zone": "null"},
        "debugContext": {"debugData": dd},
        "displayMessage": display or event_type,
        "eventType": event_type,
        "outcome": outcome,
        "published": ts(minutes),
        "request": {"ipChain": [{"geographicalContext": geo, "ip": ip, "version": "V4"}]},
        "securityContext": {"asNumber": asn or default_asn, "asOrg": org, "domain": domain, "isProxy": proxy,
                            "isp": org},
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "target": targets or [],
        "transaction": {"detail": {}, "id": f"syn-tx-{_seq[0]}", "type": "WEB"},
        "uuid": f"syn-{_seq[0]:05d}",
        "version": "0",
    }
    return e


def user_target(user):
    uid, login, name = USERS[user]
    return {"alternateId": login, "displayName": name, "id": uid, "type": "User"}


def write(name, events):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".synthetic.ndjson"), "w") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")


def fail(minutes, user="alice", **kw):
    return event("user.session.start", minutes, user, "FAILURE", "INVALID_CREDENTIALS", **kw)


def login(minutes, user="alice", **kw):
    return event("user.session.start", minutes, user, "SUCCESS", **kw)


def push_sent(minutes, user="alice"):
    return event("system.push.send_factor_verify_push", minutes, user, "SUCCESS",
                 debug={"factor": "OKTA_VERIFY_PUSH"}, display="Push notification sent for verification")


def push_denied(minutes, user="alice"):
    return event("user.mfa.okta_verify.deny_push", minutes, user, "FAILURE", "User rejected Okta push verify",
                 debug={"factor": "OKTA_VERIFY_PUSH"}, display="User rejected Okta push verify")


def mfa(minutes, result, user="alice"):
    return event("user.authentication.auth_via_mfa", minutes, user, result,
                 None if result == "SUCCESS" else "INVALID_CREDENTIALS", debug={"factor": "OKTA_VERIFY_PUSH"},
                 display="Authentication of user via MFA")


def main():
    # MFA push fatigue
    write("push_fatigue_accepted",
          [login(0), *[push_sent(0.5 + i) for i in range(6)], *[push_denied(0.7 + i) for i in range(5)], mfa(6.5, "SUCCESS")])
    write("push_fatigue_rejected", [login(0), *[push_sent(0.5 + i) for i in range(6)], *[push_denied(0.7 + i) for i in range(6)]])
    write("push_single_accepted", [login(0), push_sent(0.5), mfa(1, "SUCCESS")])
    write("push_denied_slowly", [push_denied(i * 20) for i in range(4)] + [mfa(80.5, "SUCCESS")])

    # Password spray from one address: 6 users, one failure each, from one IP.
    spray_users = ["alice", "bob", "carol", "admin"]
    extra = [("dave", "00usyn1dave00000004"), ("erin", "00usyn1erin00000005"), ("frank", "00usyn1frank0000006")]
    for n, uid in extra:
        USERS[n] = (uid, f"{n}@example.com", f"{n.title()} Example")
    spray_users += [n for n, _ in extra]
    write("spray_one_source", [fail(i * 3, u, ip="203.0.113.66", ua=PY_REQUESTS, session="unknown", place="moscow")
                               for i, u in enumerate(spray_users[:6])])
    write("spray_four_users", [fail(i * 3, u, ip="203.0.113.66", ua=PY_REQUESTS, session="unknown", place="moscow")
                               for i, u in enumerate(spray_users[:4])])
    # Distributed spray: 20 accounts, each failing once, each from its own address.
    many = [(f"user{i:02d}", f"00usyn2user{i:02d}0000") for i in range(22)]
    for n, uid in many:
        USERS[n] = (uid, f"{n}@example.com", f"User {n[4:]}")
    write("spray_distributed", [fail(i * 2, n, ip=f"198.51.100.{10 + i}", ua=PY_REQUESTS, session="unknown",
                                     place="london") for i, (n, _) in enumerate(many[:20])])
    write("spray_distributed_below", [fail(i * 2, n, ip=f"198.51.100.{10 + i}", ua=PY_REQUESTS, session="unknown",
                                           place="london") for i, (n, _) in enumerate(many[:12])])
    # Credential stuffing: one address, 12 accounts in 4 minutes.
    write("stuffing_burst", [fail(i * 0.3, n, ip="203.0.113.77", ua=PY_REQUESTS, session="unknown", place="london")
                             for i, (n, _) in enumerate(many[:12])])
    write("stuffing_slow", [fail(i * 6, n, ip="203.0.113.77", ua=PY_REQUESTS, session="unknown", place="london")
                            for i, (n, _) in enumerate(many[:4])])
    # Brute force below the threshold: 4 failures then success.
    write("few_failures_then_login", [fail(i) for i in range(4)] + [login(5)])

    # Account lockouts
    write("lockout", [fail(i, ip="203.0.113.90") for i in range(5)] +
          [event("user.account.lock", 5.1, result="FAILURE", reason="LOCKED_OUT", ip="203.0.113.90",
                 display="Max sign in attempts exceeded")])

    # Stolen session: the same Okta session used from a new IP, ASN and user agent.
    sess = "102synStolenSession01"
    write("session_replayed", [login(0, session=sess),
                               event("user.authentication.sso", 5, session=sess, display="User single sign on to app"),
                               event("user.authentication.sso", 42, session=sess, ip="198.51.100.200", place="london",
                                     ua=FIREFOX_WIN, display="User single sign on to app"),
                               event("policy.evaluate_sign_on", 43, session=sess, ip="198.51.100.200", place="london",
                                     ua=FIREFOX_WIN, result="ALLOW", display="Evaluation of sign-on policy")])
    write("session_new_ip_same_network", [login(0, session=sess),
                                          event("user.authentication.sso", 30, session=sess, ip="192.0.2.77",
                                                display="User single sign on to app")])
    write("session_new_browser_same_network", [login(0, session=sess),
                                               event("user.authentication.sso", 30, session=sess, ua=FIREFOX_WIN,
                                                     display="User single sign on to app")])

    # Concurrent sessions in two countries, and one-country control.
    write("concurrent_two_countries", [login(0, session="102synA"),
                                       login(20, ip="198.51.100.50", place="london", session="102synB", ua=FIREFOX_WIN)])
    write("sessions_one_country", [login(0, session="102synA"), login(20, ip="192.0.2.99", session="102synB")])

    # Impossible travel: New York then Sydney 2 hours later; control: New York then San Francisco 8 hours later.
    write("travel_impossible", [login(0), login(120, ip="198.51.100.61", place="sydney", session="102synC")])
    write("travel_possible", [login(0), login(480, ip="192.0.2.62", place="sf", session="102synD")])

    # Okta risk engine
    write("risk_high", [login(0, debug={"risk": "{reasons=Anomalous Device, Anomalous Location, level=HIGH}",
                                        "threatSuspected": "true"}, place="london", ip="198.51.100.81")])
    write("risk_low", [login(0, debug={"risk": "{reasons=Anomalous Device, level=LOW}"})])

    # MFA deactivated and never re-activated; deactivated then re-enrolled within the window.
    deact = lambda m, **kw: event("user.mfa.factor.deactivate", m, "admin", targets=[user_target("alice")],
                                  display="Reset factor for user", **kw)
    act = lambda m: event("user.mfa.factor.activate", m, "alice", targets=[user_target("alice")],
                          display="Activate factor or replace factor")
    write("mfa_deactivated_not_reactivated", [deact(0), login(30)])
    write("mfa_deactivated_then_reactivated", [deact(0), act(45)])
    write("mfa_reactivated_too_late", [deact(0), act(13 * 60)])

    # Policy changes
    pol = lambda t, m, r="SUCCESS": event(t, m, "admin", r, targets=[{"alternateId": "unknown",
                                                                        "displayName": "Default Policy", "id": "00psynpol1",
                                                                        "type": "PolicyEntity"}],
                                          display=t)
    write("policy_rule_deleted", [pol("policy.rule.delete", 0)])
    write("policy_deactivated", [pol("policy.lifecycle.deactivate", 0)])
    write("policy_created", [pol("policy.lifecycle.create", 0), pol("policy.rule.add", 1)])
    write("policy_update_failed", [pol("policy.lifecycle.update", 0, "FAILURE")])

    # Network zones
    zone = lambda t, m: event(t, m, "admin", targets=[{"alternateId": "unknown", "displayName": "BlockedIpZone",
                                                        "id": "nzosynzone1", "type": "Zone"}], display=t)
    write("zone_deactivated", [zone("zone.deactivate", 0)])
    write("zone_blocklist_removed", [zone("zone.remove_blacklist", 0)])
    write("zone_created", [zone("zone.create", 0), zone("zone.activate", 1)])

    # Impersonation initiated (support access used), and an ordinary sign-in.
    write("impersonation_initiated",
          [event("user.session.impersonation.initiate", 0, actor={"alternateId": "okta-support@okta.com",
                                                                   "displayName": "Okta Support", "id": "00usynokta0support",
                                                                   "type": "User"}, targets=[user_target("admin")],
                 display="Initiate impersonation session")])

    # Third-party EDR alert about alice, then alice signs in to Okta; and the EDR alert alone.
    edr = {"alert_source": "edr", "alert": {
        "detection_id": "ldt:syn0000000000001:1", "created_at": ts(0), "severity": "high", "severity_score": 70,
        "status": "new",
        "device": {"hostname": "LAPTOP-SYN1", "os": "Windows 11", "local_ip": "10.20.4.17", "external_ip": "192.0.2.10"},
        "user": {"name": "alice", "principal": "alice@example.com"},
        "behavior": {"tactic": "Credential Access", "technique": "OS Credential Dumping", "technique_id": "T1003",
                     "filename": "procdump64.exe", "cmdline": "procdump64.exe -ma lsass.exe out.dmp"},
        "description": "A process attempted to dump credentials from LSASS memory."}}
    edr_low = json.loads(json.dumps(edr))
    edr_low["alert"].update({"detection_id": "ldt:syn0000000000002:1", "severity": "low", "severity_score": 10})
    edr_low["alert"]["behavior"].update({"tactic": "Discovery", "technique": "System Information Discovery",
                                         "technique_id": "T1082", "filename": "systeminfo.exe", "cmdline": "systeminfo"})
    write("edr_then_okta_signin", [edr, login(25, ip="198.51.100.90", place="london", ua=FIREFOX_WIN, session="102synE")])
    write("edr_alone", [edr])
    write("edr_discovery_then_signin", [edr_low, login(25, session="102synF")])
    ueba = {"alert_source": "ueba", "alert": {
        "id": "ueba-syn-0001", "timestamp": int((T0 + timedelta(minutes=1)).timestamp()), "type": "risk_score_change",
        "entity": {"type": "user", "okta_id": USERS["alice"][0], "login": "alice@example.com"},
        "risk": {"level": "critical", "current": 92, "previous": 35, "reasons": ["impossible travel", "new device"]},
        "summary": "Risk score rose from 35 to 92"}}
    ueba_low = json.loads(json.dumps(ueba))
    ueba_low["alert"].update({"id": "ueba-syn-0002"})
    ueba_low["alert"]["risk"].update({"level": "low", "current": 40, "previous": 35})
    write("ueba_high", [ueba])
    write("ueba_low", [ueba_low])


if __name__ == "__main__":
    main()
