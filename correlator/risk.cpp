#include "correlator/risk.h"

#include <cmath>

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
    r.value = decay(r.value, r.at, contribution.time) + contribution.points;
    r.at = contribution.time;
  } else {
    // A late contribution: bring its points forward to the ledger's time instead of moving back.
    r.value += decay(contribution.points, contribution.time, r.at);
  }
  // Keep contributions in time order, dropping those that no longer matter.
  auto pos = r.contributions.end();
  while (pos != r.contributions.begin() && std::prev(pos)->time > contribution.time)
    --pos;
  r.contributions.insert(pos, std::move(contribution));
  std::erase_if(r.contributions, [&](const RiskContribution& c) { return decay(c.points, c.time, r.at) < 0.5; });
  if (r.contributions.size() > kMaxContributions)
    r.contributions.erase(
        r.contributions.begin(),
        r.contributions.begin() + static_cast<std::ptrdiff_t>(r.contributions.size() - kMaxContributions));
  return r.value;
}

double RiskLedger::value(const std::string& user, EventTime time) const {
  auto it = users_.find(user);
  if (it == users_.end()) return 0;
  return decay(it->second.value, it->second.at, time);
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
