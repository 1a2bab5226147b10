using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Webhooks;
using Portal.Web.Features.Operations;

namespace Portal.Web.Features.Admin;

/// <summary>The admin REST API (<c>/api/v1/admin</c>): users, API keys, settings and webhooks, for admin keys only.</summary>
public static class AdminApi
{
    /// <summary>The body of an invitation.</summary>
    public sealed record InviteRequest(string? Email, string? Role);

    /// <summary>The body of a role change.</summary>
    public sealed record RoleRequest(string? Role);

    /// <summary>The body of a new API key; the key acts as <paramref name="UserId"/> (the caller when absent).</summary>
    public sealed record KeyRequest(string? Name, string? UserId);

    /// <summary>Settings as the API shows them.</summary>
    public sealed record SettingsResponse(IReadOnlyList<string> AllowList, IReadOnlyList<string> ConfiguredAllowList, int? RetentionDays);

    /// <summary>A settings change; absent fields stay as they are.</summary>
    public sealed record SettingsRequest(List<string>? AllowList, int? RetentionDays, bool? KeepForever);

    /// <summary>The body of a new webhook.</summary>
    public sealed record WebhookRequest(string? Url);

    /// <summary>The answer of a retention sweep.</summary>
    public sealed record SweepResponse(int Deleted);

    /// <summary>Registers the admin services and workers.</summary>
    public static IServiceCollection AddAdmin(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddScoped<AdminService>();
        services.AddSingleton<PortalSettings>();
        services.AddSingleton<SettingsWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<SettingsWorker>());
        services.Configure<WebhookOptions>(configuration.GetSection("Portal:Webhooks"));
        services.AddSingleton<WebhookService>();
        services.AddHostedService<WebhookWorker>();
        services.AddSingleton<DeploymentCheck>();
        services.AddHostedService<DeploymentStartupCheck>();
        return services;
    }

    /// <summary>Maps <c>/api/v1/admin</c>.</summary>
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/v1/admin").RequireAuthorization(Policies.ApiAdmin).DisableAntiforgery().WithTags("Admin")
            .AddEndpointFilter<StoredTextFilter>();
        api.MapGet("/users", (AdminService admin, CancellationToken ct) => admin.ListUsersAsync(ct));
        api.MapPost("/users", InviteAsync);
        api.MapPost("/users/{id}/disable", (string id, HttpContext context, AdminService admin, CancellationToken ct) => SetDisabledAsync(id, true, context, admin, ct));
        api.MapPost("/users/{id}/enable", (string id, HttpContext context, AdminService admin, CancellationToken ct) => SetDisabledAsync(id, false, context, admin, ct));
        api.MapPut("/users/{id}/role", SetRoleAsync);
        api.MapGet("/api-keys", (AdminService admin, CancellationToken ct) => admin.ListKeysAsync(ct));
        api.MapPost("/api-keys", CreateKeyAsync);
        api.MapDelete("/api-keys/{id:guid}", RevokeKeyAsync);
        api.MapGet("/settings", GetSettingsAsync);
        api.MapPut("/settings", PutSettingsAsync);
        api.MapPost("/retention/sweep", async (SettingsWorker worker, CancellationToken ct) => TypedResults.Ok(new SweepResponse(await worker.SweepAsync(ct))));
        api.MapGet("/webhooks", (WebhookService webhooks, CancellationToken ct) => webhooks.ListAsync(ct));
        api.MapPost("/webhooks", CreateWebhookAsync);
        api.MapDelete("/webhooks/{id:guid}", DisableWebhookAsync);
        api.MapGet("/webhooks/deliveries", (WebhookService webhooks, CancellationToken ct, int? take) => webhooks.DeliveriesAsync(take ?? 100, ct));
        api.MapGet("/deployment", (DeploymentCheck check, CancellationToken ct) => check.ViewAsync(ct));
        api.MapPost("/deployment/check", CheckDeploymentAsync);
        return endpoints;
    }

    private static async Task<Results<Accepted<DeploymentCheckStarted>, ProblemHttpResult>> CheckDeploymentAsync(HttpContext context, DeploymentCheck check, CancellationToken cancellationToken)
    {
        var started = await check.StartAsync($"{context.Request.Scheme}://{context.Request.Host}", Me(context), cancellationToken);
        return started is null
            ? Bad("The public origin is not an origin.", "Portal__PublicOrigin must be http(s)://host[:port]; the deployment check probes the portal there.")
            : TypedResults.Accepted($"/api/v1/sessions/{started.SessionId}", started);
    }

    private static ProblemHttpResult Bad(string title, string detail) => TypedResults.Problem(title: title, detail: detail, statusCode: StatusCodes.Status400BadRequest);

    private static ProblemHttpResult Missing(string title) => TypedResults.Problem(title: title, statusCode: StatusCodes.Status404NotFound);

    private static string Me(HttpContext context) => context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? "";

    private static async Task<Results<Created<InvitedUser>, ProblemHttpResult>> InviteAsync(HttpContext context, AdminService admin, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<InviteRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (user, error) = await admin.InviteAsync(body.Value?.Email, body.Value?.Role, cancellationToken);
        return user is null ? Bad("The invitation is not valid.", error!) : TypedResults.Created($"/api/v1/admin/users/{user.Id}", user);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetDisabledAsync(string id, bool disabled, HttpContext context, AdminService admin, CancellationToken cancellationToken)
    {
        var error = await admin.SetDisabledAsync(id, disabled, Me(context), cancellationToken);
        return error is null ? TypedResults.NoContent() : error.StartsWith("No account", StringComparison.Ordinal) ? Missing(error) : Bad("The account cannot be changed.", error);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetRoleAsync(string id, HttpContext context, AdminService admin, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<RoleRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var error = await admin.SetRoleAsync(id, body.Value?.Role ?? "", Me(context), cancellationToken);
        return error is null ? TypedResults.NoContent() : error.StartsWith("No account", StringComparison.Ordinal) ? Missing(error) : Bad("The role cannot be changed.", error);
    }

    private static async Task<Results<Created<CreatedApiKey>, ProblemHttpResult>> CreateKeyAsync(HttpContext context, AdminService admin, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<KeyRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (key, error) = await admin.CreateKeyAsync(body.Value?.Name, body.Value?.UserId ?? Me(context), cancellationToken);
        return key is null ? Bad("The API key request is not valid.", error!) : TypedResults.Created($"/api/v1/admin/api-keys/{key.Id}", key);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(Guid id, AdminService admin, CancellationToken cancellationToken) =>
        await admin.RevokeKeyAsync(id, cancellationToken) ? TypedResults.NoContent() : Missing("No API key has this id.");

    private static async Task<Ok<SettingsResponse>> GetSettingsAsync(PortalSettings settings, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SettingsResponse(await settings.GetAllowListAsync(cancellationToken), settings.ConfiguredAllowList, await settings.GetRetentionDaysAsync(cancellationToken)));

    private static async Task<Results<Ok<SettingsResponse>, ProblemHttpResult>> PutSettingsAsync(HttpContext context, PortalSettings settings, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<SettingsRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var request = body.Value ?? new SettingsRequest(null, null, null);
        if (request.AllowList is { } list && await settings.SetAllowListAsync(list, Me(context), cancellationToken) is { Count: > 0 } problems)
        {
            return Bad("The allow-list is not valid.", string.Join(" ", problems));
        }

        if ((request.RetentionDays is not null || request.KeepForever == true)
            && await settings.SetRetentionDaysAsync(request.KeepForever == true ? null : request.RetentionDays, Me(context), cancellationToken) is { } error)
        {
            return Bad("The retention period is not valid.", error);
        }

        return TypedResults.Ok((await GetSettingsAsync(settings, cancellationToken)).Value!);
    }

    private static async Task<Results<Created<CreatedWebhook>, ProblemHttpResult>> CreateWebhookAsync(HttpContext context, WebhookService webhooks, CancellationToken cancellationToken)
    {
        var (body, problem) = await IngestEndpoints.ReadAsync<WebhookRequest>(context, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (webhook, error) = await webhooks.CreateAsync(body.Value?.Url, cancellationToken);
        return webhook is null ? Bad("The webhook URL cannot be used.", error!) : TypedResults.Created($"/api/v1/admin/webhooks/{webhook.Id}", webhook);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DisableWebhookAsync(Guid id, WebhookService webhooks, CancellationToken cancellationToken) =>
        await webhooks.DisableAsync(id, cancellationToken) ? TypedResults.NoContent() : Missing("No webhook has this id.");
}
