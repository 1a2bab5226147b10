using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.CustomerLink;
using Portal.Web.Features.Ingest;

namespace Portal.Web.Features.Sessions;

/// <summary>The REST API of sessions, for helpdesk systems holding an API key.</summary>
public static class SessionsApi
{
    /// <summary>The body of <c>POST /api/v1/sessions</c>'s answer.</summary>
    public sealed record CreatedResponse(Guid Id, string CustomerUrl, DateTimeOffset ExpiresAt);

    /// <summary>Maps <c>/api/v1/sessions</c>.</summary>
    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/sessions").RequireAuthorization(Policies.ApiClient).DisableAntiforgery();
        api.MapPost("/", CreateAsync);
        api.MapGet("/{id:guid}", GetAsync);
        return endpoints;
    }

    private static async Task<Results<Created<CreatedResponse>, ProblemHttpResult>> CreateAsync(HttpContext context, SessionService sessions, Probes.ProbeService probes, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<NewSession>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var input = body.Value ?? new NewSession();
        var errors = SessionService.Validate(input, probes.Prober.Guard);
        if (errors.Count > 0)
        {
            return TypedResults.Problem(
                title: "The session request is not valid.",
                detail: string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")),
                statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["errors"] = errors });
        }

        var created = await sessions.CreateAsync(input, context.User.FindFirstValue(ClaimTypes.NameIdentifier), cancellationToken);
        var url = CustomerLinks.Url($"{context.Request.Scheme}://{context.Request.Host}", created.Token);
        return TypedResults.Created($"/api/v1/sessions/{created.Session.Id}", new CreatedResponse(created.Session.Id, url, created.Session.ExpiresAt));
    }

    private static async Task<Results<Ok<SessionDetail>, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> GetAsync(Guid id, SessionService sessions, CancellationToken cancellationToken)
    {
        var detail = await sessions.GetAsync(id, cancellationToken);
        return detail is null
            ? TypedResults.NotFound(new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 404, Title = "No session has this id." })
            : TypedResults.Ok(detail);
    }
}
