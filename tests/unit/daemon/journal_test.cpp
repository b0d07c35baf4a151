#include "daemon/journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace og::test {
namespace {

using namespace og::daemon;

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("og-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
  std::filesystem::remove_all(dir);
  return dir;
}

ActionRecord record(const std::string& user, ActionKind kind, const std::string& incident, std::int64_t ms) {
  ActionRecord r;
  r.action.kind = kind;
  r.action.user_id = user;
  r.action.incident_id = incident;
  r.action.params = {{"group", "00g1"}};
  r.action.detection_ids = {"okta.mfa_push_fatigue"};
  r.action.contributing_uuids = {"u-1", "u-2"};
  r.idem_key = r.action.idempotency_key();
  r.decided_ms = ms;
  r.updated_ms = ms;
  return r;
}

TEST(ActionTypes, IdempotencyKeyIsStableAndCoversUserKindParamsIncident) {
  PlannedAction a;
  a.kind = ActionKind::add_to_group;
  a.user_id = "00u1";
  a.params = {{"group", "00gA"}, {"b", "2"}};
  a.incident_id = "inc-1";
  PlannedAction b = a;
  b.params = {{"b", "2"}, {"group", "00gA"}};  // another insertion order
  b.login = "someone@example.com";             // not part of the key
  b.risk = 99;
  EXPECT_EQ(a.idempotency_key(), b.idempotency_key());
  EXPECT_EQ(a.idempotency_key().size(), 32u);
  for (auto change : std::vector<std::function<void(PlannedAction&)>>{
           [](PlannedAction& x) { x.user_id = "00u2"; },
           [](PlannedAction& x) { x.kind = ActionKind::remove_from_group; },
           [](PlannedAction& x) { x.params["group"] = "00gB"; }, [](PlannedAction& x) { x.incident_id = "inc-2"; },
           // Length prefixes: moving text between fields changes the key.
           [](PlannedAction& x) {
             x.user_id = "00u1inc-1";
             x.incident_id = "";
           }}) {
    PlannedAction c = a;
    change(c);
    EXPECT_NE(a.idempotency_key(), c.idempotency_key());
  }
  EXPECT_EQ(a.canonical_params(), R"({"b":"2","group":"00gA"})");
}

TEST(ActionTypes, InverseAndDestructive) {
  EXPECT_EQ(inverse_kind(ActionKind::suspend), ActionKind::unsuspend);
  EXPECT_EQ(inverse_kind(ActionKind::add_to_group), ActionKind::remove_from_group);
  EXPECT_FALSE(inverse_kind(ActionKind::clear_sessions));
  EXPECT_FALSE(inverse_kind(ActionKind::reset_password));
  EXPECT_TRUE(is_destructive(ActionKind::suspend));
  EXPECT_TRUE(is_destructive(ActionKind::clear_sessions));
  EXPECT_TRUE(is_destructive(ActionKind::expire_password));
  EXPECT_TRUE(is_destructive(ActionKind::reset_password));
  EXPECT_FALSE(is_destructive(ActionKind::unsuspend));
  EXPECT_FALSE(is_destructive(ActionKind::add_to_group));
  EXPECT_FALSE(is_destructive(ActionKind::set_profile));
  PlannedAction a;
  a.kind = ActionKind::add_to_group;
  a.user_id = "00u1";
  a.params = {{"group", "00gS"}};
  a.incident_id = "i";
  auto inv = inverse(a);
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->kind, ActionKind::remove_from_group);
  EXPECT_EQ(inv->params.at("group"), "00gS");
  EXPECT_NE(inv->idempotency_key(), a.idempotency_key());
  for (int k = 0; k <= static_cast<int>(ActionKind::notify); ++k) {
    auto kind = static_cast<ActionKind>(k);
    EXPECT_EQ(parse_action_kind(to_string(kind)), kind);
  }
}

TEST(Journal, MigratesAnOldSchemaAndRefusesANewerOne) {
  auto dir = fresh_dir("journal-migrate");
  {
    auto j = Journal::open(dir, Journal::Mode::writer, 1);
    ASSERT_TRUE(j) << j.error();
    EXPECT_EQ((*j)->schema_version(), 1);
    ASSERT_TRUE((*j)->insert_action(record("00u1", ActionKind::suspend, "i1", 1000)));
  }
  {
    auto j = Journal::open(dir, Journal::Mode::writer);
    ASSERT_TRUE(j) << j.error();
    EXPECT_EQ((*j)->schema_version(), Journal::kSchemaVersion);
    auto r = (*j)->get(1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->action.user_id, "00u1");
    EXPECT_EQ(r->action.detection_ids, std::vector<std::string>{"okta.mfa_push_fatigue"});
    EXPECT_EQ(r->action.params.at("group"), "00g1");
    ASSERT_TRUE((*j)->exec("PRAGMA user_version=99"));
  }
  auto j = Journal::open(dir, Journal::Mode::writer);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().find("newer"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Rows journaled before v3 do not know which Okta user a login was: they keep matching by name only,
// while a row that knows its resolved id matches the rows naming that user by id. A reader of a
// journal an older daemon still writes reads the ids as unknown.
TEST(Journal, ResolvedIdsArriveByMigrationAndJoinALoginToItsOktaId) {
  auto dir = fresh_dir("journal-resolved");
  auto suspended = [](const std::string& user, const std::string& incident, std::int64_t ms) {
    auto r = record(user, ActionKind::suspend, incident, ms);
    r.action.params.clear();
    r.idem_key = r.action.idempotency_key();
    r.state = ActionState::done;
    return r;
  };
  {
    auto j = Journal::open(dir, Journal::Mode::writer, 2);
    ASSERT_TRUE(j) << j.error();
    auto r = suspended("alice@corp", "edr-1", 1000);
    auto id = (*j)->insert_action(r);
    ASSERT_TRUE(id);
    r.id = *id;
    ASSERT_TRUE((*j)->update_action(r));
    auto reader = Journal::open(dir, Journal::Mode::reader);
    ASSERT_TRUE(reader) << reader.error();
    auto old = (*reader)->get(*id);
    ASSERT_TRUE(old);
    EXPECT_EQ(old->state, ActionState::done);
    EXPECT_EQ(old->resolved_user_id, "");
  }
  auto j = Journal::open(dir, Journal::Mode::writer);
  ASSERT_TRUE(j) << j.error();
  auto& journal = **j;
  EXPECT_EQ(journal.schema_version(), 3);
  auto by_login = journal.get(1);
  ASSERT_TRUE(by_login);
  EXPECT_EQ(by_login->resolved_user_id, "");
  auto by_id = suspended("00uALICE", "syslog-1", 2000);
  auto id = journal.insert_action(by_id);
  ASSERT_TRUE(id);
  by_id = *journal.get(*id);
  EXPECT_EQ(by_id.resolved_user_id, "00uALICE");  // an Okta id is its own resolution
  EXPECT_FALSE(journal.newer_decision(*by_login));
  EXPECT_FALSE(journal.prior_effective(by_id));

  by_login->resolved_user_id = "00uALICE";
  ASSERT_TRUE(journal.update_action(*by_login));
  auto newer = journal.newer_decision(*by_login);
  ASSERT_TRUE(newer);
  EXPECT_EQ(newer->id, by_id.id);
  auto prior = journal.prior_effective(by_id);
  ASSERT_TRUE(prior);
  EXPECT_EQ(prior->id, by_login->id);
  ListFilter by_user;
  by_user.user = "00uALICE";
  EXPECT_EQ(journal.list(by_user).size(), 2u);
  // With the decision by id out of the way, a repeat by id finds the suspension by login (cooldown).
  by_id.state = ActionState::failed;
  ASSERT_TRUE(journal.update_action(by_id));
  PlannedAction repeat = by_id.action;
  repeat.incident_id = "syslog-2";
  auto active = journal.latest_active(repeat, 0);
  ASSERT_TRUE(active);
  EXPECT_EQ(active->id, by_login->id);
  std::filesystem::remove_all(dir);
}

TEST(Journal, OneWriterAndReadersBesideIt) {
  auto dir = fresh_dir("journal-lock");
  auto w = Journal::open(dir, Journal::Mode::writer);
  ASSERT_TRUE(w) << w.error();
  EXPECT_TRUE(Journal::writer_running(dir));
  auto w2 = Journal::open(dir, Journal::Mode::writer);
  ASSERT_FALSE(w2);
  EXPECT_NE(w2.error().find("in use"), std::string::npos);
  ASSERT_TRUE((*w)->insert_action(record("00u1", ActionKind::suspend, "i1", 1000)));
  auto reader = Journal::open(dir, Journal::Mode::reader);
  ASSERT_TRUE(reader) << reader.error();
  EXPECT_EQ((*reader)->list({}).size(), 1u);
  // Duplicate idempotency key is refused by the schema itself.
  EXPECT_FALSE((*w)->insert_action(record("00u1", ActionKind::suspend, "i1", 1000)));
  w->reset();
  EXPECT_FALSE(Journal::writer_running(dir));
  auto reader2 = Journal::open(dir, Journal::Mode::reader);
  ASSERT_TRUE(reader2) << reader2.error();
  EXPECT_EQ((*reader2)->list({}).size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(Journal, RetentionPrunesOldTerminalRowsButKeepsPendingReverts) {
  auto dir = fresh_dir("journal-prune");
  auto j = Journal::open(dir, Journal::Mode::writer);
  ASSERT_TRUE(j) << j.error();
  auto& journal = **j;
  for (int i = 0; i < 10; ++i) {
    auto r = record("00u" + std::to_string(i), ActionKind::suspend, "i", 1000 + i);
    auto id = journal.insert_action(r);
    ASSERT_TRUE(id);
    r.id = *id;
    r.state = i < 8 ? ActionState::done : ActionState::decided;
    r.updated_ms = 1000 + i;
    if (i == 0) {
      r.revert_state = RevertState::scheduled;
      r.revert_due_ms = 99999;
    }
    ASSERT_TRUE(journal.update_action(r));
  }
  auto deleted = journal.prune(1005, 1'000'000);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 4);  // ids 2..5: id 1 has a pending revert
  EXPECT_TRUE(journal.get(1));
  EXPECT_FALSE(journal.get(2));
  EXPECT_TRUE(journal.get(6));
  // Count bound: keep the newest 3 rows among prunable ones.
  deleted = journal.prune(0, 3);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 2);  // 6 and 7 (8 done is among the newest 3; 9, 10 decided are kept)
  EXPECT_TRUE(journal.get(1));
  EXPECT_TRUE(journal.get(8));
  EXPECT_TRUE(journal.get(9));
  EXPECT_FALSE(journal.get(7));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace og::test
