using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Probes;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.Probes;

/// <summary>Server-side probes: services and <c>POST /api/v1/sessions/{id}/probes</c>.</summary>
public static class ProbesEndpoints
{
    /// <summary>Registers the prober (with the allow-list from <c>Portal:Probes</c>), the service and the worker.</summary>
    public static IServiceCollection AddProbes(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection("Portal:Probes");
        services.Configure<ProbeSettings>(section);
        services.AddSingleton(_ => new Prober(section.Get<ProbeOptions>() ?? new ProbeOptions()));
        services.AddSingleton<ProbeService>();
        services.AddHostedService<ProbeWorker>();
        return services;
    }

    /// <summary>Maps the probe API.</summary>
    public static IEndpointRouteBuilder MapProbesApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/v1/sessions/{id:guid}/probes", RequestAsync).RequireAuthorization(Policies.ApiClient).DisableAntiforgery();
        return endpoints;
    }

    private static async Task<Results<Accepted<ProbeAccepted>, ProblemHttpResult>> RequestAsync(Guid id, HttpContext context, ProbeService probes, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<ProbeRequest>(context, cancellationToken);
        // An empty body means "the session's own targets"; a body that is not valid JSON is refused.
        if (problem is not null && IngestEndpoints.HasBody(context))
        {
            return problem;
        }

        var engineer = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? "unknown";
        var outcome = await probes.RequestAsync(id, body.Value?.Targets, engineer, cancellationToken);
        switch (outcome.State)
        {
            case ProbeRequestState.Accepted:
                return TypedResults.Accepted($"/api/v1/sessions/{id}", new ProbeAccepted(outcome.RunId, outcome.Targets!));
            case ProbeRequestState.NotFound:
                return TypedResults.Problem(title: "No session has this id.", statusCode: StatusCodes.Status404NotFound);
            case ProbeRequestState.RateLimited:
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(outcome.RetryAfter!.Value.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(title: "Too many probe requests.", detail: "Each engineer may start a limited number of probes per minute; try again shortly.", statusCode: StatusCodes.Status429TooManyRequests);
            default:
                return TypedResults.Problem(
                    title: "A target cannot be probed.", detail: string.Join(" ", outcome.Errors!), statusCode: StatusCodes.Status400BadRequest,
                    extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, IReadOnlyList<string>> { ["targets"] = outcome.Errors! } });
        }
    }

    /// <summary>The body of a probe request.</summary>
    /// <param name="Targets">URLs (http, https, ws, wss) or host:port; the session's own targets when absent.</param>
    public sealed record ProbeRequest(List<string>? Targets = null);

    /// <summary>The answer to an accepted probe request: the run the results will join.</summary>
    public sealed record ProbeAccepted(Guid RunId, IReadOnlyList<string> Targets);
}
