#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "correlator/decision.h"
#include "correlator/event.h"
#include "correlator/rule_set.h"
#include "correlator/window_state.h"

namespace og::correlator {

// Kept per user while its risk lasts, so it is compact: the detection as an interned symbol, the
// key only when it is not the user itself, at most kMaxEvidence uuids.
struct RiskContribution {
  Symbol detection;
  EntryId key;        // empty: the key was the user id
  double points = 0;  // as added
  EventTime time{};
  std::vector<CompactId> evidence;
  static constexpr std::size_t kMaxEvidence = 8;
};

struct UserRisk {
  double value = 0;  // at `at`
  EventTime at{};
  IdentityKind kind = IdentityKind::okta_id;
  std::vector<RiskContribution> contributions;  // newest last; decayed-out ones are dropped
};

// Per-user risk with exponential decay over event time: r(t) = sum p_i * 2^(-(t - t_i)/half_life).
// Adding is commutative, so the value at any time does not depend on the order points arrived in.
class RiskLedger {
 public:
  explicit RiskLedger(Duration half_life) : half_life_(half_life) {}

  // Adds points at `time` and returns the user's risk at max(time, last update).
  double add(const UserRef& user, RiskContribution contribution);
  double value(const std::string& user, EventTime time) const;
  const UserRisk* find(const std::string& user) const;
  // Risk that decayed under this many points is gone, whether or not a sweep has dropped it yet.
  static constexpr double kDropBelow = 0.5;
  // Drops users whose risk decayed under `floor` points at `now`; returns how many.
  std::size_t sweep(EventTime now, double floor = kDropBelow);
  std::size_t size() const { return users_.size(); }
  Duration half_life() const { return half_life_; }
  void set_half_life(Duration h) { half_life_ = h; }
  double decay(double value, EventTime from, EventTime to) const;

  const boost::unordered_flat_map<std::string, UserRisk>& users() const { return users_; }
  boost::unordered_flat_map<std::string, UserRisk>& mutable_users() { return users_; }

  static constexpr std::size_t kMaxContributions = 32;

 private:
  Duration half_life_;
  boost::unordered_flat_map<std::string, UserRisk> users_;
};

}  // namespace og::correlator
