#include "okta_client/lookups.h"

#include <memory>

namespace og::okta {

std::optional<std::string> search_equals(std::string_view attribute, std::string_view value) {
  if (attribute.empty() || value.empty()) return std::nullopt;
  for (char c : attribute) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return std::nullopt;
  }
  std::string out(attribute);
  out += " eq \"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    // No escape sequence for control characters exists in Okta's filter grammar.
    if (u < 0x20 || u == 0x7f) return std::nullopt;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace {

bool is_okta_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || iequals_ascii(id, "me")) return false;
  for (char c : id) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

Failure invalid(std::string detail) {
  Failure f;
  f.kind = OutcomeKind::invalid;
  f.detail = std::move(detail);
  return f;
}

Failure not_found(std::string detail) {
  Failure f;
  f.kind = OutcomeKind::not_found;
  f.detail = std::move(detail);
  return f;
}

Failure parse_failure(std::string_view what, const std::error_code& ec) {
  // A 200 whose body we cannot read is Okta (or a proxy) misbehaving; retrying later may work.
  Failure f;
  f.kind = OutcomeKind::transient;
  f.http_status = 200;
  f.detail = fmt::format("cannot parse {}: {}", what, ec.message());
  return f;
}

// The path of a target, without the query.
std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

Lookups::Lookups(SendFn send, LookupOptions options) : send_(std::move(send)), options_(std::move(options)) {}

void Lookups::get(std::string target, std::function<void(LookupResult<Response>)> cb) {
  Request req;
  req.method = http::verb::get;
  req.target = std::move(target);
  req.priority = Priority::lookup;
  req.idempotent = true;
  ++*requests_sent_;
  send_(std::move(req), [cb = std::move(cb)](boost::system::result<Response, TransportFailure> r) {
    if (!r) {
      cb(classify_transport_failure(r.error(), true));
      return;
    }
    Failure f = classify_status(r->status, r->body, true);
    if (f.kind != OutcomeKind::success) {
      cb(std::move(f));
      return;
    }
    cb(std::move(*r));
  });
}

namespace {

// Follows rel="next" until the last page. Owned by the in-flight request's handler.
template <typename T, typename Parse>
class Pager : public std::enable_shared_from_this<Pager<T, Parse>> {
 public:
  Pager(SendFn send, Parse parse, LookupOptions options, std::shared_ptr<std::atomic<std::uint64_t>> counter,
        std::string path, Lookups::Callback<std::vector<T>> cb)
      : send_(std::move(send)),
        parse_(parse),
        options_(std::move(options)),
        counter_(std::move(counter)),
        path_(std::move(path)),
        cb_(std::move(cb)) {}

  void fetch(std::string target) {
    Request req;
    req.method = http::verb::get;
    req.target = std::move(target);
    req.priority = Priority::lookup;
    req.idempotent = true;
    ++*counter_;
    send_(std::move(req), [self = this->shared_from_this()](boost::system::result<Response, TransportFailure> r) {
      self->on_page(std::move(r));
    });
  }

 private:
  void on_page(boost::system::result<Response, TransportFailure> r) {
    if (!r) return finish(classify_transport_failure(r.error(), true));
    Failure f = classify_status(r->status, r->body, true);
    if (f.kind != OutcomeKind::success) return finish(std::move(f));
    auto page = parse_(r->body);
    if (!page) return finish(parse_failure("page", page.error()));
    for (auto& item : *page)
      items_.push_back(std::move(item));
    ++pages_;
    std::optional<std::string> next;
    for (const auto& [name, value] : r->headers) {
      if (name == "link" && (next = next_link_target(value))) break;
    }
    if (!next) return finish(std::move(items_));
    // Pages stay on the endpoint we asked for: a Link cannot send us elsewhere.
    if (path_of(*next) != path_) return finish(invalid(fmt::format("next link leaves {}", path_)));
    if (pages_ >= options_.max_pages) return finish(invalid(fmt::format("more than {} pages", options_.max_pages)));
    fetch(std::move(*next));
  }

  void finish(LookupResult<std::vector<T>> result) {
    auto cb = std::move(cb_);
    cb(std::move(result));
  }

  SendFn send_;
  Parse parse_;
  LookupOptions options_;
  std::shared_ptr<std::atomic<std::uint64_t>> counter_;
  std::string path_;
  Lookups::Callback<std::vector<T>> cb_;
  std::vector<T> items_;
  int pages_ = 0;
};

}  // namespace

template <typename T, typename Parse>
void Lookups::fetch_pages(std::string target, Parse parse, Callback<std::vector<T>> cb) {
  auto pager = std::make_shared<Pager<T, Parse>>(send_, parse, options_, requests_sent_, std::string(path_of(target)),
                                                 std::move(cb));
  pager->fetch(std::move(target));
}

void Lookups::get_user(std::string user_id, Callback<OktaUser> cb) {
  if (!is_okta_id(user_id)) {
    cb(invalid("user id is not an Okta id"));
    return;
  }
  get("/api/v1/users/" + user_id, [cb = std::move(cb)](LookupResult<Response> r) {
    if (!r) return cb(r.error());
    auto user = parse_user(r->body);
    if (!user) return cb(parse_failure("user", user.error()));
    cb(std::move(*user));
  });
}

void Lookups::get_user_by_login(std::string login, Callback<OktaUser> cb) {
  if (login.empty()) return cb(invalid("empty login"));
  const bool path_safe = login.find('/') == std::string::npos && !iequals_ascii(login, "me");
  if (!path_safe) {
    auto expr = search_equals("profile.login", login);
    if (!expr) return cb(invalid("login cannot be searched for"));
    search_users(std::move(*expr), [login, cb = std::move(cb)](LookupResult<std::vector<OktaUser>> r) {
      if (!r) return cb(r.error());
      const OktaUser* match = nullptr;
      for (const auto& u : *r) {
        if (!iequals_ascii(u.login, login)) continue;
        if (match) return cb(invalid("several users with this login"));
        match = &u;
      }
      if (!match) return cb(not_found("no user with this login"));
      cb(*match);
    });
    return;
  }
  get("/api/v1/users/" + percent_encode(login), [login, cb = std::move(cb)](LookupResult<Response> r) {
    if (!r) return cb(r.error());
    auto user = parse_user(r->body);
    if (!user) return cb(parse_failure("user", user.error()));
    if (!iequals_ascii(user->login, login)) return cb(not_found("only a short-name match for this login"));
    cb(std::move(*user));
  });
}

void Lookups::search_users(std::string expression, Callback<std::vector<OktaUser>> cb) {
  std::string target = fmt::format("/api/v1/users?search={}&limit={}", percent_encode(expression), options_.page_limit);
  fetch_pages<OktaUser>(std::move(target), parse_users, std::move(cb));
}

void Lookups::find_users_by_email(std::string email, Callback<std::vector<OktaUser>> cb) {
  auto expr = search_equals("profile.email", email);
  if (!expr) return cb(invalid("email cannot be searched for"));
  search_users(std::move(*expr), [email, cb = std::move(cb)](LookupResult<std::vector<OktaUser>> r) {
    if (!r) return cb(r.error());
    std::vector<OktaUser> out;
    for (auto& u : *r) {
      if (iequals_ascii(u.email, email)) out.push_back(std::move(u));
    }
    cb(std::move(out));
  });
}

void Lookups::find_group_by_name(std::string name, Callback<OktaGroup> cb) {
  if (name.empty()) return cb(invalid("empty group name"));
  get("/api/v1/groups?q=" + percent_encode(name), [name, cb = std::move(cb)](LookupResult<Response> r) {
    if (!r) return cb(r.error());
    auto groups = parse_groups(r->body);
    if (!groups) return cb(parse_failure("groups", groups.error()));
    const OktaGroup* match = nullptr;
    for (const auto& g : *groups) {
      // q= is a prefix match: "Admins" also returns "Admins-EU".
      if (g.name != name) continue;
      if (match) return cb(invalid("several groups with this name"));
      match = &g;
    }
    if (!match) return cb(not_found("no group with exactly this name"));
    cb(*match);
  });
}

void Lookups::list_user_groups(std::string user_id, Callback<std::vector<OktaGroup>> cb) {
  if (!is_okta_id(user_id)) return cb(invalid("user id is not an Okta id"));
  fetch_pages<OktaGroup>(fmt::format("/api/v1/users/{}/groups", user_id), parse_groups, std::move(cb));
}

void Lookups::list_group_members(std::string group_id, Callback<std::vector<OktaUser>> cb) {
  if (!is_okta_id(group_id)) return cb(invalid("group id is not an Okta id"));
  // Okta's default page is 1000 users and its advice is 200: ask for the configured page size.
  fetch_pages<OktaUser>(fmt::format("/api/v1/groups/{}/users?limit={}", group_id, options_.page_limit), parse_users,
                        std::move(cb));
}

}  // namespace og::okta
