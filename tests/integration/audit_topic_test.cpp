// The audit topic copy against the real broker: every line arrives once, keyed by the user, in order.

#include "daemon/audit_topic.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/kafka.h"

namespace og::test {
namespace {

TEST(AuditTopic, EveryLineArrivesKeyedByUserInOrder) {
  const std::string bootstrap = kafka_bootstrap();
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = unique_name("og-audit");
  create_topic(bootstrap, topic, 3);
  std::vector<std::string> lines;
  for (int i = 0; i < 30; ++i)
    lines.push_back(R"({"ts_ms":)" + std::to_string(1700000000000 + i) + R"(,"event":"action","action_id":)" +
                    std::to_string(i) + R"(,"kind":"suspend","user_id":"00uUser)" + std::to_string(i % 3) + R"("})");
  lines.push_back(R"({"ts_ms":1700000000999,"event":"breaker_tripped","detail":"20 actions in 10m"})");
  std::vector<std::string> errors;
  {
    auto producer = daemon::AuditTopicProducer::create(
        {topic, {{"bootstrap.servers", bootstrap}, {"group.id", "ignored-for-a-producer"}}},
        [&](daemon::LogLevel, std::string_view message) { errors.emplace_back(message); });
    ASSERT_TRUE(producer) << producer.error();
    for (const std::string& line : lines)
      (*producer)->send(line + "\n");
  }  // the destructor flushes
  EXPECT_TRUE(errors.empty()) << errors.front();

  std::vector<TopicRecord> got = read_topic(bootstrap, topic, lines.size());
  ASSERT_EQ(got.size(), lines.size());
  std::map<std::string, std::vector<std::string>> by_key;
  for (const TopicRecord& r : got) {
    EXPECT_EQ(r.payload.find('\n'), std::string::npos);
    by_key[r.key].push_back(r.payload);
  }
  ASSERT_EQ(by_key.size(), 4u);  // three users, and the unkeyed breaker line
  EXPECT_EQ(by_key[""].size(), 1u);
  for (int u = 0; u < 3; ++u) {
    const auto& seen = by_key["00uUser" + std::to_string(u)];
    ASSERT_EQ(seen.size(), 10u);
    for (std::size_t k = 0; k < seen.size(); ++k)  // one user's lines keep their order
      EXPECT_EQ(seen[k], lines[k * 3 + static_cast<std::size_t>(u)]);
  }
}

TEST(AuditTopic, BadPropertyIsAnErrorAtCreation) {
  auto producer = daemon::AuditTopicProducer::create({"t", {{"no.such.property", "1"}}}, {});
  ASSERT_FALSE(producer);
  EXPECT_NE(producer.error().find("no.such.property"), std::string::npos);
}

}  // namespace
}  // namespace og::test
