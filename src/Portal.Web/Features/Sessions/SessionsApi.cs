using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.CustomerLink;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Operations;

namespace Portal.Web.Features.Sessions;

/// <summary>The REST API of sessions, for helpdesk systems holding an API key.</summary>
public static class SessionsApi
{
    /// <summary>The body of <c>POST /api/v1/sessions</c>'s answer.</summary>
    public sealed record CreatedResponse(Guid Id, string CustomerUrl, DateTimeOffset ExpiresAt);

    /// <summary>Maps <c>/api/v1/sessions</c>.</summary>
    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/sessions").RequireAuthorization(Policies.ApiClient).DisableAntiforgery().WithTags("Sessions")
            .AddEndpointFilter<StoredTextFilter>();
        api.MapPost("/", CreateAsync);
        api.MapGet("/", ListAsync);
        api.MapGet("/{id:guid}", GetAsync);
        api.MapPost("/{id:guid}/close", (Guid id, SessionService sessions, CancellationToken ct) => ChangeAsync(sessions.SetClosedAsync(id, true, ct)));
        api.MapPost("/{id:guid}/reopen", (Guid id, SessionService sessions, CancellationToken ct) => ChangeAsync(sessions.SetClosedAsync(id, false, ct)));
        api.MapPost("/{id:guid}/revoke-link", (Guid id, SessionService sessions, CancellationToken ct) => ChangeAsync(sessions.RevokeLinkAsync(id, ct)));
        api.MapPost("/{id:guid}/run-again", RunAgainAsync);
        api.MapGet("/{id:guid}/notes", (Guid id, Collaboration collaboration, CancellationToken ct) => collaboration.NotesAsync(id, ct));
        api.MapPost("/{id:guid}/notes", AddNoteAsync);
        return endpoints;
    }

    /// <summary>One page of the sessions list.</summary>
    public sealed record SessionPage(IReadOnlyList<SessionSummary> Items, int Total, int Skip, int Take);

    /// <summary>The body of a new note.</summary>
    public sealed record NoteRequest(string? Body);

    private static async Task<Results<Ok<SessionPage>, ProblemHttpResult>> ListAsync(
        SessionService sessions, CancellationToken cancellationToken, string? search, string? customer, string? ticket, string? engineerId,
        string? status, string? finding, DateTimeOffset? from, DateTimeOffset? to, int? skip, int? take)
    {
        if (status is not (null or "open" or "closed"))
        {
            return TypedResults.Problem(title: "Unknown status.", detail: "status must be open or closed.", statusCode: StatusCodes.Status400BadRequest);
        }

        var (rows, total) = await sessions.ListAsync(new SessionQuery(search, customer, ticket, engineerId, status, finding, from, to), skip ?? 0, take ?? 50, cancellationToken);
        return TypedResults.Ok(new SessionPage(rows, total, Math.Max(0, skip ?? 0), Math.Clamp(take ?? 50, 1, 200)));
    }

    private static async Task<Results<NoContent, NotFound<Microsoft.AspNetCore.Mvc.ProblemDetails>>> ChangeAsync(Task<bool> change) =>
        await change ? TypedResults.NoContent() : TypedResults.NotFound(new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 404, Title = "No session has this id." });

    /// <summary>Asks the customer's open page to run the test again, on whichever instance it is connected to.</summary>
    private static async Task<Results<Accepted, ProblemHttpResult>> RunAgainAsync(Guid id, SessionService sessions, CancellationToken cancellationToken) =>
        await sessions.RequestRunAsync(id, cancellationToken) switch
        {
            RunRequest.Sent => TypedResults.Accepted((string?)null),
            RunRequest.LinkClosed => TypedResults.Problem(title: "The link takes no more runs.", detail: "The session is closed or its link revoked or expired: reopen the session or send a new link.", statusCode: StatusCodes.Status409Conflict),
            _ => TypedResults.Problem(title: "No session has this id.", statusCode: StatusCodes.Status404NotFound),
        };

    private static async Task<Results<NoContent, ProblemHttpResult>> AddNoteAsync(Guid id, HttpContext context, Collaboration collaboration, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<NoteRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var error = await collaboration.AddNoteAsync(id, context.User.FindFirstValue(ClaimTypes.NameIdentifier), context.User.Identity?.Name ?? "API", body.Value?.Body, cancellationToken);
        return error is null ? TypedResults.NoContent() : TypedResults.Problem(title: "The note was not stored.", detail: error, statusCode: error.Contains("no longer", StringComparison.Ordinal) ? 404 : 400);
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
        var url = CustomerLinks.Url(context.RequestServices.GetRequiredService<Diagnostics.PortalOrigins>().LinkBase($"{context.Request.Scheme}://{context.Request.Host}"), created.Token);
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
