using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Sessions;
using Portal.Web.Features.Operations;

namespace Portal.Web.Features.Reports;

/// <summary>Reports (<c>GET /api/v1/sessions/{id}/report</c>), share links, and the share-link page <c>/shared/{token}</c>.</summary>
public static class ReportsEndpoints
{
    /// <summary>The body of a new share link.</summary>
    /// <param name="Hours">How long the link lives (1 to 720 hours; 168 when absent).</param>
    public sealed record ShareRequest(int? Hours);

    /// <summary>Registers share links.</summary>
    public static IServiceCollection AddReports(this IServiceCollection services) => services.AddSingleton<ShareLinks>();

    /// <summary>Maps the report and share-link endpoints.</summary>
    public static IEndpointRouteBuilder MapReports(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/sessions/{id:guid}").RequireAuthorization(Policies.ApiClient).DisableAntiforgery().WithTags("Reports")
            .AddEndpointFilter<StoredTextFilter>();
        api.MapGet("/report", ReportAsync);
        api.MapGet("/share-links", (Guid id, ShareLinks links, CancellationToken ct) => links.ListAsync(id, ct));
        api.MapPost("/share-links", ShareAsync);
        api.MapDelete("/share-links/{linkId:guid}", RevokeAsync);

        // The console (cookie) downloads the same report.
        endpoints.MapGet("/sessions/{id:guid}/report", ReportAsync).RequireAuthorization(Policies.Engineer).ExcludeFromDescription();
        endpoints.MapGet("/shared/{token}", SharedAsync).AllowAnonymous().ExcludeFromDescription();
        return endpoints;
    }

    private static async Task<Results<Ok<SessionDetail>, ContentHttpResult, ProblemHttpResult>> ReportAsync(
        Guid id, string? format, HttpContext context, SessionService sessions, TimeProvider time, CancellationToken cancellationToken)
    {
        format ??= "json";
        if (format is not ("json" or "html"))
        {
            return TypedResults.Problem(title: "Unknown report format.", detail: "format must be json or html.", statusCode: StatusCodes.Status400BadRequest);
        }

        var session = await sessions.GetAsync(id, cancellationToken);
        if (session is null)
        {
            return TypedResults.Problem(title: "No session has this id.", statusCode: StatusCodes.Status404NotFound);
        }

        if (format == "json")
        {
            return TypedResults.Ok(session);
        }

        SetReportHeaders(context);
        context.Response.Headers.ContentDisposition = $"inline; filename=\"report-{id}.html\"";
        return TypedResults.Content(ReportHtml.Render(session, time.GetUtcNow()), "text/html; charset=utf-8");
    }

    private static async Task<Results<Created<CreatedShareLink>, ProblemHttpResult>> ShareAsync(Guid id, HttpContext context, ShareLinks links, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<ShareRequest>(context, cancellationToken);
        if (problem is not null && IngestEndpoints.HasBody(context))
        {
            return problem;
        }

        var hours = body.Value?.Hours;
        if (hours is < 1 or > 720)
        {
            return TypedResults.Problem(title: "The share link request is not valid.", detail: "hours must be between 1 and 720.", statusCode: StatusCodes.Status400BadRequest);
        }

        var (link, error) = await links.CreateAsync(id, context.RequestServices.GetRequiredService<Diagnostics.PortalOrigins>().LinkBase($"{context.Request.Scheme}://{context.Request.Host}"), hours is { } h ? TimeSpan.FromHours(h) : null, context.User.FindFirstValue(ClaimTypes.NameIdentifier), cancellationToken);
        return link is not null
            ? TypedResults.Created($"/api/v1/sessions/{id}/share-links/{link.Id}", link)
            : TypedResults.Problem(title: error ?? "No session has this id.", statusCode: error is null ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(Guid id, Guid linkId, ShareLinks links, CancellationToken cancellationToken) =>
        await links.RevokeAsync(id, linkId, cancellationToken) ? TypedResults.NoContent() : TypedResults.Problem(title: "No share link has this id.", statusCode: StatusCodes.Status404NotFound);

    private static async Task<IResult> SharedAsync(string token, HttpContext context, ShareLinks links, SessionService sessions, TimeProvider time, CancellationToken cancellationToken)
    {
        SetReportHeaders(context);
        var (sessionId, gone) = await links.ResolveAsync(token, cancellationToken);
        var session = sessionId is { } sid ? await sessions.GetAsync(sid, cancellationToken) : null;
        if (session is null)
        {
            var message = gone ? "This report link has expired or was revoked. Ask the support engineer for a new one." : "There is no report at this link.";
            return Results.Content(
                $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Report unavailable</title></head><body><h1>Report unavailable</h1><p>{message}</p></body></html>",
                "text/html; charset=utf-8", statusCode: gone ? StatusCodes.Status410Gone : StatusCodes.Status404NotFound);
        }

        return Results.Content(ReportHtml.Render(session, time.GetUtcNow()), "text/html; charset=utf-8");
    }

    private static void SetReportHeaders(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ReportHtml.ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
    }
}
