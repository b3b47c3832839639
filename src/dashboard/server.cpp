// Routes of queue-dashboard, and the checks every request passes.
//
// Order of checks: basic auth (when configured) for everything but the health
// probes; for admin POSTs, --allow-admin, then the CSRF token. Every response
// carries a Content-Security-Policy that allows only the page's own script and
// style, so text that slipped into markup could still not run.
#include "dashboard/server.hpp"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <thread>

#include "dashboard/admin_api.hpp"
#include "dashboard/csrf_token.hpp"
#include "dashboard/exposition.hpp"
#include "dashboard/page_assets.hpp"
#include "dashboard/read_api.hpp"
#include "dashboard/request_counter.hpp"

namespace dashboard {

namespace {

using httplib::Request;
using httplib::Response;

constexpr const char* kSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

bool IsHealthProbe(const std::string& path) { return path == "/healthz" || path == "/readyz"; }

void Send(Response& response, const Reply& reply) {
  response.status = reply.status;
  response.set_content(reply.body, reply.content_type.c_str());
}

class Routes {
 public:
  Routes(const Options& options, const BasicAuth* auth, ConnectionPool& pool)
      : options_(options),
        auth_(auth),
        read_(pool, options.tick_stale_seconds),
        admin_(pool),
        csrf_token_(options.allow_admin ? NewCsrfToken() : std::string()) {}

  void Install(httplib::Server& http) {
    http.set_pre_routing_handler([this](const Request& request, Response& response) {
      if (auth_ == nullptr || IsHealthProbe(request.path) || User(request))
        return httplib::Server::HandlerResponse::Unhandled;
      response.set_header("WWW-Authenticate", "Basic realm=\"queue dashboard\", charset=\"UTF-8\"");
      Send(response, ErrorReply(401, "sign in"));
      return httplib::Server::HandlerResponse::Handled;
    });
    http.set_post_routing_handler([](const Request& request, Response& response) {
      response.set_header("Content-Security-Policy", kSecurityPolicy);
      response.set_header("X-Content-Type-Options", "nosniff");
      response.set_header("Referrer-Policy", "no-referrer");
      response.set_header("X-Frame-Options", "DENY");
      // Figures are live: no cache may answer for the database.
      if (request.path.rfind("/api/", 0) == 0 || request.path == "/metrics" ||
          IsHealthProbe(request.path))
        response.set_header("Cache-Control", "no-store");
    });

    for (const PageAsset* asset = PageAssets(); asset->path != nullptr; asset++) {
      Get(http, asset->path, "page", [asset](const Request&) {
        return Reply{200, asset->content_type, std::string(asset->content)};
      });
    }
    Get(http, "/healthz", "/healthz", [](const Request&) {
      return Reply{200, "text/plain; charset=utf-8", "ok\n"};
    });
    Get(http, "/readyz", "/readyz", [this](const Request&) { return read_.Ready(); });
    Get(http, "/metrics", "/metrics", [this](const Request&) { return Metrics(); });
    Get(http, "/api/session", "/api/session", [this](const Request& request) {
      std::optional<std::string> user = User(request);
      Json session = {{"admin", options_.allow_admin},
                      {"user", user ? Json(*user) : Json(nullptr)}};
      if (options_.allow_admin) session["csrf_token"] = csrf_token_;
      return JsonReply(session);
    });
    Get(http, "/api/overview", "/api/overview",
        [this](const Request&) { return read_.Overview(); });
    Get(http, "/api/jobs", "/api/jobs",
        [this](const Request& request) { return read_.Jobs(request.params); });
    Get(http, R"(/api/jobs/([^/]+))", "/api/jobs/{id}",
        [this](const Request& request) { return read_.Job(request.matches[1].str()); });
    Get(http, "/api/workers", "/api/workers", [this](const Request&) { return read_.Workers(); });
    Get(http, "/api/alerts", "/api/alerts", [this](const Request&) { return read_.Alerts(); });
    Get(http, "/api/history", "/api/history",
        [this](const Request& request) { return read_.History(request.params); });

    Post(http, "/api/admin/cancel", [this](const Request& request, const std::string& actor) {
      return admin_.CancelJob(request.body, actor);
    });
    Post(http, "/api/admin/drain", [this](const Request& request, const std::string& actor) {
      return admin_.DrainWorker(request.body, actor);
    });
    Post(http, "/api/admin/limit", [this](const Request& request, const std::string& actor) {
      return admin_.SetLimit(request.body, actor);
    });
  }

 private:
  std::optional<std::string> User(const Request& request) const {
    if (auth_ == nullptr) return std::nullopt;
    return auth_->Authenticate(request.get_header_value("Authorization"));
  }

  void Get(httplib::Server& http, const std::string& pattern, const std::string& route,
           std::function<Reply(const Request&)> handler) {
    http.Get(pattern, [this, route, handler](const Request& request, Response& response) {
      Reply reply = handler(request);
      requests_.Add(route, reply.status);
      Send(response, reply);
    });
  }

  // Admin POSTs: refused unless admin actions are on and the token matches.
  void Post(httplib::Server& http, const std::string& path,
            std::function<Reply(const Request&, const std::string&)> handler) {
    http.Post(path, [this, path, handler](const Request& request, Response& response) {
      Reply reply;
      std::optional<std::string> user = User(request);
      if (!options_.allow_admin || !user) {
        reply = ErrorReply(403, "admin actions are off (start the dashboard with --allow-admin)");
      } else if (!CsrfTokenMatches(csrf_token_, request.get_header_value("X-CSRF-Token"))) {
        reply = ErrorReply(403, "missing or wrong X-CSRF-Token; reload the page");
      } else if (request.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
        reply = ErrorReply(415, "send application/json");
      } else {
        reply = handler(request, *user);
      }
      requests_.Add(path, reply.status);
      Send(response, reply);
    });
  }

  // The queue's figures, then the dashboard's own.
  Reply Metrics() {
    bool database_up = false;
    Reply reply = read_.Metrics(&database_up);
    reply.body += RenderFamily("queue_dashboard_database_up", "gauge",
                               "1 when the dashboard's last query of queue.metrics() succeeded.",
                               {Sample{{}, database_up ? 1.0 : 0.0}});
    reply.body += requests_.Render();
    return reply;
  }

  const Options& options_;
  const BasicAuth* auth_;
  ReadApi read_;
  AdminApi admin_;
  const std::string csrf_token_;
  RequestCounter requests_;
};

}  // namespace

int Serve(const Options& options, const BasicAuth* auth, ConnectionPool& pool) {
  httplib::Server http;
  Routes routes(options, auth, pool);
  routes.Install(http);
  http.set_payload_max_length(64 * 1024);
  if (!http.bind_to_port(options.listen_host, options.listen_port)) {
    std::fprintf(stderr, "queue-dashboard: cannot listen on %s:%d\n", options.listen_host.c_str(),
                 options.listen_port);
    return 1;
  }
  // SIGINT/SIGTERM are blocked in every thread; this one waits for them.
  std::thread stopper([&http] {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    int received = 0;
    sigwait(&signals, &received);
    http.stop();
  });
  std::printf("queue-dashboard: serving http://%s:%d/ (%s, %s)\n", options.listen_host.c_str(),
              options.listen_port, auth != nullptr ? "basic auth" : "no auth",
              options.allow_admin ? "admin actions on" : "read-only");
  std::fflush(stdout);
  bool served = http.listen_after_bind();
  if (!served) {
    // The listener failed on its own: wake the waiting thread.
    kill(getpid(), SIGTERM);
  }
  stopper.join();
  return served ? 0 : 1;
}

}  // namespace dashboard
