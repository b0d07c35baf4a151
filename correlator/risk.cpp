#include "correlator/risk.h"

#include <cmath>
#include <cstring>

namespace og::correlator {

double RiskLedger::decay(double value, EventTime from, EventTime to) const {
  if (to <= from) return value;
  double halves = static_cast<double>((to - from).count()) / static_cast<double>(half_life_.count());
  return value * std::exp2(-halves);
}

double RiskLedger::add(const UserRef& user, RiskContribution contribution) {
  UserRisk& r = users_[user.id];
  r.kind = user.kind;
  if (contribution.time >= r.at) {
    double carried = decay(r.value, r.at, contribution.time);
    // As if swept: the residual and its contributions are gone, so a sweep's timing changes nothing.
    if (carried < kDropBelow) {
      carried = 0;
      r.contributions.clear();
    }
    r.value = carried + contribution.points;
    r.at = contribution.time;
  } else {
    // A late contribution: bring its points forward to the ledger's time instead of moving back.
    r.value += decay(contribution.points, contribution.time, r.at);
  }
  // Keep contributions in time order, dropping those that no longer matter.
  auto pos = r.contributions.end();
  while (pos != r.contributions.begin() && std::prev(pos)->time > contribution.time)
    --pos;
  // Contributions stay while the user's risk does (days, for users that are otherwise idle): grow
  // the vector one at a time instead of doubling, which would leave a third of it unused on average.
  if (r.contributions.size() == r.contributions.capacity()) {
    auto at = pos - r.contributions.begin();
    r.contributions.reserve(r.contributions.size() + 1);
    pos = r.contributions.begin() + at;
  }
  r.contributions.insert(pos, std::move(contribution));
  std::erase_if(r.contributions, [&](const RiskContribution& c) { return decay(c.points, c.time, r.at) < kDropBelow; });
  if (r.contributions.size() > kMaxContributions)
    r.contributions.erase(
        r.contributions.begin(),
        r.contributions.begin() + static_cast<std::ptrdiff_t>(r.contributions.size() - kMaxContributions));
  return r.value;
}

double RiskLedger::value(const std::string& user, EventTime time) const {
  auto it = users_.find(user);
  if (it == users_.end()) return 0;
  double v = decay(it->second.value, it->second.at, time);
  return v < kDropBelow ? 0 : v;
}

const UserRisk* RiskLedger::find(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

std::size_t RiskLedger::sweep(EventTime now, double floor) {
  return boost::unordered::erase_if(users_,
                                    [&](const auto& kv) { return decay(kv.second.value, kv.second.at, now) < floor; });
}

}  // namespace og::correlator

namespace og::correlator {
namespace {

// Hex digit value; `upper` records the case of letters (a uuid of mixed case is kept as text so it
// renders back unchanged).
int hex(char c, int& upper) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return upper == 1 ? -1 : (upper = 0, c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return upper == 0 ? -1 : (upper = 1, c - 'A' + 10);
  return -1;
}

// A canonical uuid of one case into 16 bytes; `upper` is set to 1 for upper case. False: not one.
bool parse_uuid(std::string_view text, std::uint8_t* bytes, int& upper) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') return false;
  std::size_t out = 0;
  upper = -1;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    int h = hex(text[i], upper), l = hex(text[i + 1], upper);
    if (h < 0 || l < 0) return false;
    bytes[out++] = static_cast<std::uint8_t>(h << 4 | l);
    ++i;
  }
  return out == 16;
}

void render_uuid(const std::uint8_t* bytes, bool upper, char* out) {
  const char* kHex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
    *out++ = kHex[bytes[i] >> 4];
    *out++ = kHex[bytes[i] & 0xF];
  }
}

}  // namespace

CompactId CompactId::from(std::string_view text) {
  CompactId id;
  if (text.empty()) return id;
  int upper = -1;
  if (parse_uuid(text, id.bytes_.data(), upper)) {
    id.kind_ = upper == 1 ? 20 : 1;
    return id;
  }
  id.bytes_ = {};
  std::size_t n = std::min<std::size_t>(text.size(), 16);
  if (text.size() > 16) n = 15;
  for (std::size_t i = 0; i < n; ++i)
    id.bytes_[i] = static_cast<std::uint8_t>(text[i]);
  id.kind_ = text.size() > 16 ? 19 : static_cast<std::uint8_t>(2 + n);
  return id;
}

std::string CompactId::str() const {
  if (kind_ == 0) return {};
  if (kind_ == 1 || kind_ == 20) {
    std::string out(36, '-');
    render_uuid(bytes_.data(), kind_ == 20, out.data());
    return out;
  }
  std::size_t n = kind_ == 19 ? 15 : kind_ - 2u;
  std::string out(reinterpret_cast<const char*>(bytes_.data()), n);
  if (kind_ == 19) out.push_back('~');
  return out;
}

EntryId::EntryId(std::string_view text) {
  if (text.empty()) return;
  int upper = -1;
  if (parse_uuid(text, raw_.data(), upper)) {
    raw_[kTag] = upper == 1 ? kUpperUuid : kLowerUuid;
    return;
  }
  raw_ = {};
  if (text.size() < kTag) {
    std::memcpy(raw_.data(), text.data(), text.size());
    raw_[kTag] = static_cast<std::uint8_t>(text.size());
    return;
  }
  char* p = new char[text.size()];
  std::memcpy(p, text.data(), text.size());
  auto n = static_cast<std::uint32_t>(text.size());
  std::memcpy(raw_.data(), &p, sizeof p);
  std::memcpy(raw_.data() + 8, &n, sizeof n);
  raw_[kTag] = kHeap;
}

EntryId::EntryId(const EntryId& o) : raw_(o.raw_) {
  if (!heap()) return;
  std::uint32_t n = o.heap_size();
  char* p = new char[n];
  std::memcpy(p, o.heap_ptr(), n);
  std::memcpy(raw_.data(), &p, sizeof p);
}

char* EntryId::heap_ptr() const {
  char* p = nullptr;
  std::memcpy(&p, raw_.data(), sizeof p);
  return p;
}

std::uint32_t EntryId::heap_size() const {
  std::uint32_t n = 0;
  std::memcpy(&n, raw_.data() + 8, sizeof n);
  return n;
}

std::string_view EntryId::view(std::array<char, 36>& buf) const {
  std::uint8_t tag = raw_[kTag];
  if (tag == kHeap) return {heap_ptr(), heap_size()};
  if (tag == kLowerUuid || tag == kUpperUuid) {
    render_uuid(raw_.data(), tag == kUpperUuid, buf.data());
    return {buf.data(), buf.size()};
  }
  return {reinterpret_cast<const char*>(raw_.data()), tag};
}

std::string EntryId::str() const {
  std::array<char, 36> buf;
  return std::string(view(buf));
}

}  // namespace og::correlator
