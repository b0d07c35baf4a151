#include "tests/okta_emulator/lifecycle.h"

namespace og::test::emulator {

std::string_view to_string(UserStatus s) {
  switch (s) {
    case UserStatus::staged:
      return "STAGED";
    case UserStatus::provisioned:
      return "PROVISIONED";
    case UserStatus::active:
      return "ACTIVE";
    case UserStatus::recovery:
      return "RECOVERY";
    case UserStatus::password_expired:
      return "PASSWORD_EXPIRED";
    case UserStatus::locked_out:
      return "LOCKED_OUT";
    case UserStatus::suspended:
      return "SUSPENDED";
    case UserStatus::deprovisioned:
      return "DEPROVISIONED";
  }
  return "ACTIVE";
}

std::optional<UserStatus> parse_status(std::string_view s) {
  for (auto st :
       {UserStatus::staged, UserStatus::provisioned, UserStatus::active, UserStatus::recovery,
        UserStatus::password_expired, UserStatus::locked_out, UserStatus::suspended, UserStatus::deprovisioned})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

std::optional<UserStatus> transition(UserStatus from, LifecycleOp op) {
  bool has_usable_password = from == UserStatus::active || from == UserStatus::recovery ||
                             from == UserStatus::password_expired || from == UserStatus::locked_out;
  switch (op) {
    case LifecycleOp::suspend:
      if (from == UserStatus::active) return UserStatus::suspended;
      return std::nullopt;
    case LifecycleOp::unsuspend:
      if (from == UserStatus::suspended) return UserStatus::active;
      return std::nullopt;
    case LifecycleOp::expire_password:
      if (has_usable_password) return UserStatus::password_expired;
      return std::nullopt;
    case LifecycleOp::reset_password:
      if (has_usable_password) return UserStatus::recovery;
      return std::nullopt;
    case LifecycleOp::unlock:
      if (from == UserStatus::locked_out) return UserStatus::active;
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace og::test::emulator
