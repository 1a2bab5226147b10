using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.SignalR;
using Portal.Core.Results;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.CustomerLink;

using Portal.Web.Features.Operations;

namespace Portal.Web.Features.Ingest;

/// <summary>Registers and maps ingest: the customer hub and its plain-HTTP fallback.</summary>
public static class IngestEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The largest body the HTTP fallback reads: a result at its limit plus room for escaping.</summary>
    public const int MaxBodyBytes = ResultValidator.MaxResultBytes + 1024;

    /// <summary>Adds SignalR and the ingest services.</summary>
    public static IServiceCollection AddIngest(this IServiceCollection services)
    {
        services.AddSingleton(sp => new Findings.FindingsStore(
            sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Webhooks.WebhookOptions>>().Value.RunsPerLink));
        services.AddHostedService<Findings.FindingsWorker>();
        services.AddSingleton<RunIngest>();
        services.AddSingleton<ResultReception>();
        services.AddSingleton<ConnectionObserver>();
        services.AddSingleton<LinkBudget>();
        services.AddSingleton<PortalRefusals>();
        services.AddSingleton<OpenLinks>();
        services.AddSingleton<PerLinkHubFilter>();
        services.AddSignalR(o =>
        {
            o.AddFilter<PerLinkHubFilter>();
            o.MaximumReceiveMessageSize = MaxBodyBytes;
            o.EnableDetailedErrors = false;
        });
        return services;
    }

    /// <summary>Maps the hub and <c>POST /api/runs/{token}/results</c> and <c>/complete</c>.</summary>
    public static IEndpointRouteBuilder MapIngest(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHub<RunHub>(RunHub.Path, o => o.AllowStatefulReconnects = true);

        var runs = endpoints.MapGroup("/api/runs/{token}").RequireAuthorization(Policies.Customer).DisableAntiforgery()
            .AddEndpointFilter(async (context, next) =>
            {
                var http = context.HttpContext;
                if (await http.RequestServices.GetRequiredService<LinkBudget>().TryTakeAsync(CustomerLinkAuthenticationHandler.SessionOf(http.User), "http"))
                {
                    return await next(context);
                }

                // 429 with a reason (not a bare 503): the client is asked to slow down; the server is fine.
                http.Response.Headers.RetryAfter = ((int)LinkBudget.Window.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(title: "Too many messages for this link.", detail: "Slow down and retry after a minute.", statusCode: StatusCodes.Status429TooManyRequests);
            });
        runs.MapPost("/results", ReportAsync);
        runs.MapPost("/complete", CompleteAsync);
        runs.MapPost("/observe", ObserveAsync);
        return endpoints;
    }

    private static async Task<Results<Ok<IngestAck>, ProblemHttpResult>> ReportAsync(HttpContext context, ResultReception reception, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadAsync<ResultSubmission>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var received = await reception.ReceiveAsync(
            CustomerLinkAuthenticationHandler.SessionOf(context.User), body.Value, ResultSource.Client, "http", context.Request.Headers.UserAgent, cancellationToken, body.Bytes);
        return received.Ack is { } ack ? TypedResults.Ok(ack) : Problem(received.Problem!, received.Errors);
    }

    private static async Task<Results<Ok<IngestAck>, ProblemHttpResult>> CompleteAsync(HttpContext context, ResultReception reception, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadAsync<CompleteRun>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var received = await reception.CompleteAsync(
            CustomerLinkAuthenticationHandler.SessionOf(context.User), body.Value?.RunId ?? Guid.Empty, body.Value?.Verdict, "http", context.Request.Headers.UserAgent, cancellationToken);
        return received.Ack is { } ack ? TypedResults.Ok(ack) : Problem(received.Problem!, received.Errors);
    }

    private static async Task<Results<Ok<IngestAck>, ProblemHttpResult>> ObserveAsync(HttpContext context, ResultReception reception, ConnectionObserver observer, Probes.ProbeService probes, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadAsync<ObserveRun>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        if (body.Value is not { } observe || observe.RunId == Guid.Empty || observe.Id == Guid.Empty)
        {
            return Problem("runId and id are required.");
        }

        var observation = observer.Observe(context, observe.RunId, observe.Id, "http", observe.PageOrigin);
        var received = await reception.ReceiveAsync(
            CustomerLinkAuthenticationHandler.SessionOf(context.User), observation, ResultSource.Server, "http", context.Request.Headers.UserAgent, cancellationToken);
        if (received.Ack is { Stored: true })
        {
            await probes.StartForCustomerRunAsync(CustomerLinkAuthenticationHandler.SessionOf(context.User), observe.RunId, cancellationToken);
        }

        return received.Ack is { } ack ? TypedResults.Ok(ack) : Problem(received.Problem!, received.Errors);
    }

    /// <summary>Whether the request carries a body at all: for endpoints where an empty one means "the defaults".</summary>
    internal static bool HasBody(HttpContext context) =>
        context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0;

    /// <summary>
    /// Reads a JSON body of any content type (beacons send text/plain) up to <see cref="MaxBodyBytes"/>, with a clear
    /// refusal for anything too large or not JSON.
    /// </summary>
    internal static async Task<((T? Value, int Bytes) Body, ProblemHttpResult? Problem)> ReadAsync<T>(HttpContext context, CancellationToken cancellationToken)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (default, await TooLargeAsync(context));
        }

        var buffer = new ArrayBufferWriter<byte>(4096);
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer.GetMemory(8192), cancellationToken)) > 0)
        {
            buffer.Advance(read);
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                return (default, await TooLargeAsync(context));
            }
        }

        T? value;
        try
        {
            value = JsonSerializer.Deserialize<T>(buffer.WrittenSpan, Json);
        }
        catch (JsonException ex)
        {
            // The parser's own words stay in the answer to the page; the engineer reads what happened, not an exception.
            await RefusedAsync(context, RefusalReasons.Invalid, StatusCodes.Status400BadRequest, $"a message to {context.Request.Path} that is not valid JSON");
            var field = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "body";
            var why = ex.InnerException is InvalidOperationException { Message: var m } && m.Contains("surrogate", StringComparison.OrdinalIgnoreCase)
                ? $"{field} contains a lone surrogate, which is not a character."
                : $"The body is not valid JSON: {ex.Message}";
            return (default, Problem(why, new Dictionary<string, string[]> { [field] = [why] }));
        }

        // What PostgreSQL cannot store (NUL, lone surrogates, numbers beyond a double, deep nesting) is refused here,
        // for every endpoint that reads its body through this method, before anything is written.
        if (StoredTextFilter.Find(value, "body", 0) is { } unstorable)
        {
            await RefusedAsync(context, RefusalReasons.Invalid, StatusCodes.Status400BadRequest, $"a message to {context.Request.Path} holding text the portal cannot store");
            var why = $"{unstorable.Path} {unstorable.Problem}.";
            return (default, Problem(why, new Dictionary<string, string[]> { [unstorable.Path] = [why] }));
        }

        return ((value, buffer.WrittenCount), null);
    }

    private static async Task<ProblemHttpResult> TooLargeAsync(HttpContext context)
    {
        var detail = $"A result may be at most {ResultValidator.MaxResultBytes} bytes.";
        await RefusedAsync(context, RefusalReasons.TooLarge, StatusCodes.Status413PayloadTooLarge, $"a message to {context.Request.Path} larger than {MaxBodyBytes} bytes ({detail})");
        return TypedResults.Problem(title: "The message is too large.", detail: detail, statusCode: StatusCodes.Status413PayloadTooLarge);
    }

    /// <summary>Records a refusal against the link's session, when a customer link sent the message.</summary>
    private static Task RefusedAsync(HttpContext context, string reason, int status, string what) =>
        context.User.FindFirst(CustomerLinkAuthenticationHandler.SessionClaim) is null
            ? Task.CompletedTask
            : context.RequestServices.GetRequiredService<PortalRefusals>().RecordAsync(
                CustomerLinkAuthenticationHandler.SessionOf(context.User), null, reason, status, what, "http", CancellationToken.None);

    private static ProblemHttpResult Problem(string detail, IDictionary<string, string[]>? errors = null)
    {
        var extensions = errors is null ? null : new Dictionary<string, object?> { ["errors"] = errors };
        return TypedResults.Problem(title: "The message was refused.", detail: detail, statusCode: StatusCodes.Status400BadRequest, extensions: extensions);
    }

    private sealed record CompleteRun(Guid RunId, string? Verdict);

    private sealed record ObserveRun(Guid RunId, Guid Id, string? PageOrigin = null);
}
