using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using Portal.Web.Features.Accounts;

namespace Portal.Web.Features.Operations;

/// <summary>Health for load balancers and orchestrators, and the metrics endpoint.</summary>
public static class OperationsEndpoints
{
    /// <summary>Registers the health checks and the metrics.</summary>
    public static IServiceCollection AddOperations(this IServiceCollection services)
    {
        services.AddSingleton<PortalMetrics>();
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("postgresql", tags: ["ready"]);
        return services;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers (no dependency checked, so a database outage does not get every
    /// instance restarted); <c>/health/ready</c>: PostgreSQL answers too, so a load balancer sends traffic here;
    /// <c>/metrics</c>: the counters, for API keys only.
    /// </summary>
    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        endpoints.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }).AllowAnonymous();
        endpoints.MapGet("/metrics", (PortalMetrics metrics) => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"))
            .RequireAuthorization(Policies.ApiClient)
            .ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>
    /// PostgreSQL answers a query within 2 s. The query itself is never cancelled (a cancelled Npgsql command can leave
    /// its pooled connection unusable); past 2 s the check stops waiting and says unhealthy.
    /// </summary>
    private sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var query = QueryAsync();
            try
            {
                await query.WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
                return HealthCheckResult.Healthy("PostgreSQL answers.");
            }
            catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException)
            {
                _ = query.ContinueWith(t => t.Exception, TaskScheduler.Default);
                return HealthCheckResult.Unhealthy("PostgreSQL does not answer.", ex);
            }
        }

        private async Task QueryAsync()
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync();
        }
    }
}
