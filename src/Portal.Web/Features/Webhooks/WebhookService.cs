using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Probes;

namespace Portal.Web.Features.Webhooks;

/// <summary>A webhook as admins see it (the secret only when it is created).</summary>
public sealed record WebhookSummary(Guid Id, string Url, DateTimeOffset CreatedAt, bool Active);

/// <summary>A new webhook, with the only copy of its secret an admin will see.</summary>
public sealed record CreatedWebhook(Guid Id, string Url, string Secret);

/// <summary>One delivery and how its attempts went.</summary>
public sealed record DeliverySummary(
    Guid Id, Guid WebhookId, string Url, string Event, Guid? RunId, DateTimeOffset CreatedAt, int Attempts, DateTimeOffset? DeliveredAt,
    DateTimeOffset? NextAttemptAt, int? LastStatus, string? LastError);

/// <summary>Registers webhooks (their URLs pass the probe address guard) and reads the delivery log.</summary>
public sealed class WebhookService(IDbContextFactory<PortalDbContext> contexts, Prober prober, TimeProvider time)
{
    /// <summary>Adds a webhook; returns null and a reason when its URL is not acceptable.</summary>
    public async Task<(CreatedWebhook? Webhook, string? Problem)> CreateAsync(string? url, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(url) || url.Length > 2048 || !Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return (null, "The webhook URL must be an absolute http or https URL of at most 2048 characters.");
        }

        if (!prober.Guard.TryAccept(url.Trim(), out _, out var refused))
        {
            return (null, refused);
        }

        var webhook = new Webhook { Id = Guid.CreateVersion7(), Url = url.Trim(), Secret = WebhookSignature.NewSecret(), CreatedAt = time.GetUtcNow() };
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        db.Webhooks.Add(webhook);
        await db.SaveChangesAsync(cancellationToken);
        return (new CreatedWebhook(webhook.Id, webhook.Url, webhook.Secret), null);
    }

    /// <summary>Every webhook, newest first.</summary>
    public async Task<IReadOnlyList<WebhookSummary>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Webhooks.AsNoTracking().OrderByDescending(w => w.CreatedAt)
            .Select(w => new WebhookSummary(w.Id, w.Url, w.CreatedAt, w.DisabledAt == null))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Stops a webhook; its pending deliveries are dropped. False when there is no such webhook.</summary>
    public async Task<bool> DisableAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var webhook = await db.Webhooks.FirstOrDefaultAsync(w => w.Id == id, cancellationToken);
        if (webhook is null)
        {
            return false;
        }

        webhook.DisabledAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        await db.WebhookDeliveries.Where(d => d.WebhookId == id && d.DeliveredAt == null).ExecuteUpdateAsync(u => u.SetProperty(d => d.NextAttemptAt, (DateTimeOffset?)null), cancellationToken);
        return true;
    }

    /// <summary>The newest deliveries.</summary>
    public async Task<IReadOnlyList<DeliverySummary>> DeliveriesAsync(int take, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.WebhookDeliveries.AsNoTracking()
            .OrderByDescending(d => d.CreatedAt)
            .Take(Math.Clamp(take, 1, 500))
            .Join(db.Webhooks, d => d.WebhookId, w => w.Id, (d, w) => new DeliverySummary(
                d.Id, d.WebhookId, w.Url, d.Event, d.RunId, d.CreatedAt, d.Attempts, d.DeliveredAt, d.NextAttemptAt, d.LastStatus, d.LastError))
            .ToListAsync(cancellationToken);
    }
}
