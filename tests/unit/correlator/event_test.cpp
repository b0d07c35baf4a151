#include "correlator/event.h"

#include <gtest/gtest.h>

#include <set>

#include "correlator/fields.h"

namespace og::correlator {
namespace {

TEST(Symbol, EqualTextSharesOneCopy) {
  Symbol a = Symbol::intern("user.session.start");
  Symbol b = Symbol::intern(std::string("user.session.") + "start");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.view().data(), b.view().data());
  EXPECT_FALSE(a == Symbol::intern("user.session.end"));
  EXPECT_TRUE(Symbol{}.empty());
  EXPECT_EQ(Symbol::intern(""), Symbol{});
}

TEST(Text, KeepsUpTo39BytesInlineAndMoreOnTheHeap) {
  const std::string uuid = "e4a6d4c5-3b1f-11ee-9e3a-6f1d4d1f5a6b";  // 36 bytes
  Text inline_text(uuid);
  EXPECT_EQ(inline_text, uuid);
  EXPECT_FALSE(inline_text.allocated());
  Text full(std::string(Text::kInlineCapacity, 'x'));
  EXPECT_FALSE(full.allocated());
  EXPECT_EQ(full.size(), Text::kInlineCapacity);
  Text heap(std::string(Text::kInlineCapacity + 1, 'y'));
  EXPECT_TRUE(heap.allocated());
  EXPECT_EQ(heap, std::string(Text::kInlineCapacity + 1, 'y'));
  EXPECT_TRUE(Text().empty());
  EXPECT_TRUE(Text("").empty());
}

TEST(Text, CopiesMovesAndAssignsAcrossTheInlineLimit) {
  const std::string long_text(100, 'l');
  Text a(long_text);
  Text b = a;  // a deep copy
  EXPECT_EQ(b, long_text);
  EXPECT_NE(a.data(), b.data());
  Text c = std::move(a);
  EXPECT_EQ(c, long_text);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): a moved-from Text is empty
  a = "short";
  EXPECT_EQ(a, "short");
  a = long_text;  // inline -> heap
  EXPECT_EQ(a, long_text);
  a = "s";  // heap keeps its buffer
  EXPECT_EQ(a, "s");
  b = std::move(c);
  EXPECT_EQ(b, long_text);
  const Text& same = b;
  b = same;  // self-assignment keeps the value
  EXPECT_EQ(b, long_text);
  b.assign(b.view().substr(10, 50));  // from its own bytes
  EXPECT_EQ(b, std::string(50, 'l'));
  Text d("0123456789");
  d.assign(d.view().substr(2, 3));
  EXPECT_EQ(d, "234");
  d.clear();
  EXPECT_TRUE(d.empty());
  Text e(long_text);
  e = {};  // as for std::string: cleared
  EXPECT_TRUE(e.empty());
  e = {'o', 'k'};
  EXPECT_EQ(e, "ok");
}

TEST(Text, EverySizeAndEveryOverlapCopiesExactly) {
  // The short copy has a branch per size class (1-3, 4-7, 8-15, 16-31, 32-48, longer).
  std::string source;
  for (int i = 0; i < 70; ++i)
    source.push_back(static_cast<char>('A' + i % 58));
  for (std::size_t n = 0; n <= source.size(); ++n) {
    Text fresh(std::string_view(source).substr(0, n));
    ASSERT_EQ(fresh, std::string_view(source).substr(0, n)) << n;
    Text assigned("x");
    assigned.assign(std::string_view(source).substr(source.size() - n));
    ASSERT_EQ(assigned, std::string_view(source).substr(source.size() - n)) << n;
  }
  for (std::size_t start = 0; start < Text::kInlineCapacity; ++start) {
    for (std::size_t n = 0; start + n <= Text::kInlineCapacity; ++n) {
      Text self(std::string_view(source).substr(0, Text::kInlineCapacity));
      self.assign(self.view().substr(start, n));  // overlapping when n > start
      ASSERT_EQ(self, std::string_view(source).substr(start, n)) << start << " " << n;
    }
  }
}

TEST(Text, ComparesFormatsAndHashesAsItsView) {
  Text a("alice@example.com");
  EXPECT_TRUE(a == "alice@example.com");
  EXPECT_TRUE("alice@example.com" == a);
  EXPECT_TRUE(a == std::string("alice@example.com"));
  EXPECT_TRUE(a == Text("alice@example.com"));
  EXPECT_TRUE(a != "bob@example.com");
  EXPECT_TRUE(a < std::string_view("bob"));
  EXPECT_TRUE(a.starts_with("alice@"));
  EXPECT_EQ(fmt::format("<{}>", a), "<alice@example.com>");
  EXPECT_EQ(std::hash<Text>{}(a), std::hash<std::string_view>{}("alice@example.com"));
  EXPECT_EQ(a.str(), "alice@example.com");
}

TEST(Fields, FixedPathsResolveAndReadBack) {
  FieldRegistry registry;
  Event event;
  event.event_type = Symbol::intern("user.session.start");
  event.geo.country = Symbol::intern("United States");
  event.geo.lat = 37.5;
  event.targets.push_back(EntityRef{"00u1", Symbol::intern("User"), "a@example.com", "A"});
  std::string scratch;

  FieldRef type = registry.resolve("eventType");
  EXPECT_EQ(type.id, FieldId::event_type);
  EXPECT_EQ(read_field(event, type, 0, scratch).text, "user.session.start");

  FieldRef lat = registry.resolve("client.geographicalContext.geolocation.lat");
  FieldView lat_view = read_field(event, lat, 0, scratch);
  EXPECT_EQ(lat_view.kind, FieldView::Kind::number);
  EXPECT_DOUBLE_EQ(lat_view.number, 37.5);
  EXPECT_EQ(lat_view.text, "37.5");

  FieldRef target = registry.resolve("target.alternateId");
  EXPECT_TRUE(target.per_target());
  EXPECT_EQ(read_field(event, target, 0, scratch).text, "a@example.com");
  EXPECT_EQ(read_field(event, target, 1, scratch).kind, FieldView::Kind::missing);

  EXPECT_EQ(read_field(event, registry.resolve("client.ipAddress"), 0, scratch).kind, FieldView::Kind::missing);
  EXPECT_TRUE(registry.extra_paths().empty());
}

// Every field with a value of its own, so a direct access reading the wrong member shows.
Event event_with_every_field() {
  Event e;
  int n = 0;
  auto text = [&]() { return Text("value-" + std::to_string(++n)); };
  auto symbol = [&]() { return Symbol::intern("symbol-" + std::to_string(++n)); };
  e.uuid = text();
  e.published = EventTime(std::chrono::milliseconds(1'700'000'000'000));
  e.time_from_payload = true;
  e.source = symbol();
  e.event_type = symbol();
  e.severity = symbol();
  e.display_message = text();
  e.actor = EntityRef{text(), symbol(), text(), text()};
  e.targets.push_back(EntityRef{text(), symbol(), text(), text()});
  e.client_ip = text();
  e.user_agent = text();
  e.user_agent_os = symbol();
  e.user_agent_browser = symbol();
  e.client_device = symbol();
  e.client_zone = symbol();
  e.geo = Geo{text(), symbol(), symbol(), text(), 12.5, -3.25};
  e.outcome_result = symbol();
  e.outcome_reason = symbol();
  e.external_session_id = text();
  e.root_session_id = text();
  e.credential_type = symbol();
  e.credential_provider = symbol();
  e.authentication_provider = symbol();
  e.as_number = 64500;
  e.as_org = text();
  e.isp = text();
  e.domain = text();
  e.is_proxy = true;
  e.debug_risk = text();
  e.debug_threat_suspected = text();
  e.debug_behaviors = text();
  e.debug_request_uri = text();
  e.debug_dt_hash = text();
  e.transaction_id = text();
  e.ip_chain = {"192.0.2.1"};
  return e;
}

TEST(Fields, DirectAccessReadsWhatTheGenericSwitchReads) {
  const Event full = event_with_every_field();
  const Event empty;
  std::string scratch_a, scratch_b;
  std::size_t direct = 0;
  for (auto i = static_cast<int>(FieldId::uuid); i < static_cast<int>(FieldId::extra); ++i) {
    auto id = static_cast<FieldId>(i);
    FieldRef fast = FieldRef::fixed(id);
    FieldRef generic{id, 0};
    ASSERT_EQ(generic.access, FieldAccess::generic);
    if (fast.access != FieldAccess::generic) ++direct;
    EXPECT_EQ(fast.access == FieldAccess::symbol, symbol_field(full, id) != nullptr) << field_path(id);
    for (const Event* e : {&full, &empty}) {
      FieldView a = read_field(*e, fast, 0, scratch_a);
      FieldView b = read_field(*e, generic, 0, scratch_b);
      EXPECT_EQ(a.kind, b.kind) << field_path(id);
      EXPECT_EQ(a.text, b.text) << field_path(id);
      EXPECT_EQ(a.number, b.number) << field_path(id);
      EXPECT_EQ(a.boolean, b.boolean) << field_path(id);
      if (e == &full) {
        EXPECT_NE(a.kind, FieldView::Kind::missing) << field_path(id);
      }
      const Symbol* sym = symbol_field(*e, fast);
      EXPECT_EQ(sym, symbol_field(*e, id)) << field_path(id);
    }
  }
  // The text and symbol fields of the model (the rest are numbers, booleans, lists and per-target).
  EXPECT_EQ(direct, 35u);
  // Both paths share the field-to-member maps: each field must read a member of its own.
  std::set<std::string_view> values;
  for (auto i = static_cast<int>(FieldId::uuid); i < static_cast<int>(FieldId::extra); ++i) {
    FieldRef fast = FieldRef::fixed(static_cast<FieldId>(i));
    if (fast.access == FieldAccess::generic) continue;
    EXPECT_TRUE(values.insert(read_field(full, fast, 0, scratch_a).text).second) << field_path(fast.id);
  }
}

TEST(Fields, UnknownPathsBecomeExtrasWithJsonPointers) {
  FieldRegistry registry;
  FieldRef a = registry.resolve("debugContext.debugData.logOnlySecurityData");
  FieldRef b = registry.resolve("a~b.c/d");
  FieldRef again = registry.resolve("debugContext.debugData.logOnlySecurityData");
  EXPECT_EQ(a.id, FieldId::extra);
  EXPECT_EQ(a.extra_slot, again.extra_slot);
  EXPECT_NE(a.extra_slot, b.extra_slot);
  ASSERT_EQ(registry.extra_json_pointers().size(), 2u);
  EXPECT_EQ(registry.extra_json_pointers()[0], "/debugContext/debugData/logOnlySecurityData");
  EXPECT_EQ(registry.extra_json_pointers()[1], "/a~0b/c~1d");

  Event event;
  event.extras.push_back(ExtraField{a.extra_slot, std::string("{\"x\":1}")});
  event.extras.push_back(ExtraField{b.extra_slot, true});
  std::string scratch;
  EXPECT_EQ(read_field(event, a, 0, scratch).text, "{\"x\":1}");
  FieldView flag = read_field(event, b, 0, scratch);
  EXPECT_EQ(flag.kind, FieldView::Kind::boolean);
  EXPECT_TRUE(flag.boolean);
}

}  // namespace
}  // namespace og::correlator
