using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Data;
using Portal.Data.Events;

using Portal.Core.Results;

namespace Portal.Web.Features.Sessions;

/// <summary>A note as the console shows it.</summary>
public sealed record NoteDetail(Guid Id, string AuthorName, string Body, DateTimeOffset CreatedAt);

/// <summary>Someone watching a session now.</summary>
public sealed record Watcher(string UserId, string UserName);

/// <summary>Presence timing (<c>Portal:Presence</c>): a page beats every <see cref="Heartbeat"/>; one silent for <see cref="Stale"/> is gone.</summary>
public sealed class PresenceOptions
{
    /// <summary>How often an open session page beats (20 s).</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a page may stay silent before it no longer counts as watching (70 s: three beats missed, and some).</summary>
    public TimeSpan Stale { get; set; } = TimeSpan.FromSeconds(70);
}

/// <summary>
/// What engineers share on a session: notes, and who is watching. Both live in PostgreSQL and every change is
/// announced on the event bus, so watchers on any instance see it at once.
/// </summary>
public sealed class Collaboration(IDbContextFactory<PortalDbContext> contexts, TimeProvider time, IOptions<PresenceOptions> options)
{
    /// <summary>The longest note accepted.</summary>
    public const int MaxNoteLength = 4000;

    /// <summary>How often an open page says it is still there (and clears the session's silent pages).</summary>
    public TimeSpan Heartbeat => options.Value.Heartbeat;

    /// <summary>A page not heard of for this long is no longer counted as watching (it crashed or lost its circuit).</summary>
    public TimeSpan Stale => options.Value.Stale;

    /// <summary>Adds a note; returns a problem, or null when stored.</summary>
    public async Task<string?> AddNoteAsync(Guid sessionId, string? authorId, string authorName, string? body, CancellationToken cancellationToken)
    {
        var text = body?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > MaxNoteLength)
        {
            return $"A note has 1 to {MaxNoteLength} characters.";
        }

        if (StoredText.Problem(text) is { } unstorable)
        {
            return $"The note {unstorable}.";
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await db.Sessions.AnyAsync(s => s.Id == sessionId, cancellationToken))
        {
            return "This session no longer exists.";
        }

        db.Notes.Add(new Note { Id = Guid.CreateVersion7(), SessionId = sessionId, AuthorId = authorId, AuthorName = authorName, Body = text, CreatedAt = time.GetUtcNow() });
        await db.SaveChangesAsync(cancellationToken);
        await SessionService.NotifyAsync(db, sessionId, cancellationToken, PortalEventKinds.NoteAdded);
        return null;
    }

    /// <summary>The session's notes, oldest first.</summary>
    public async Task<IReadOnlyList<NoteDetail>> NotesAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Notes.AsNoTracking().Where(n => n.SessionId == sessionId).OrderBy(n => n.CreatedAt)
            .Select(n => new NoteDetail(n.Id, n.AuthorName, n.Body, n.CreatedAt))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Records that a page (identified by <paramref name="pageId"/>) watches the session, and tells the others.</summary>
    public async Task JoinAsync(Guid pageId, Guid sessionId, string userId, string userName, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO presence (circuit_id, session_id, user_id, user_name, seen_at) VALUES ({0}, {1}, {2}, {3}, {4}) ON CONFLICT (circuit_id) DO UPDATE SET seen_at = excluded.seen_at",
            [pageId, sessionId, userId, userName, now], cancellationToken);
        // Pages that vanished without saying goodbye (a killed instance) are cleared by whoever comes next.
        await db.Presence.Where(p => p.SeenAt < now - Stale).ExecuteDeleteAsync(cancellationToken);
        await SessionService.NotifyAsync(db, sessionId, cancellationToken, PortalEventKinds.PresenceChanged);
        await transaction.CommitAsync(CancellationToken.None);
    }

    /// <summary>
    /// Keeps a page counted as watching, and removes the session's pages that have gone silent (their instance died
    /// without a goodbye), telling the others: every watcher's beat keeps the list honest, with no polling.
    /// </summary>
    public async Task BeatAsync(Guid pageId, Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        await db.Presence.Where(p => p.CircuitId == pageId).ExecuteUpdateAsync(u => u.SetProperty(p => p.SeenAt, now), cancellationToken);
        if (await db.Presence.Where(p => p.SessionId == sessionId && p.SeenAt < now - Stale).ExecuteDeleteAsync(cancellationToken) > 0)
        {
            await SessionService.NotifyAsync(db, sessionId, cancellationToken, PortalEventKinds.PresenceChanged);
        }

        await transaction.CommitAsync(CancellationToken.None);
    }

    /// <summary>Records that a page stopped watching, and tells the others.</summary>
    /// <remarks>
    /// The row goes and the others are told in one transaction. Apart, a leave cancelled between the two (a page that
    /// loses its connection and is disposed at once: the disposal cancels the first leave and its own finds no row)
    /// removed the row and told nobody, so the colleague's badge stayed on every other page.
    /// </remarks>
    public async Task LeaveAsync(Guid pageId, Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await db.Presence.Where(p => p.CircuitId == pageId).ExecuteDeleteAsync(cancellationToken) > 0)
        {
            await SessionService.NotifyAsync(db, sessionId, cancellationToken, PortalEventKinds.PresenceChanged);
        }

        await transaction.CommitAsync(CancellationToken.None);
    }

    /// <summary>Who watches the session now, each person once.</summary>
    public async Task<IReadOnlyList<Watcher>> WatchersAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var since = time.GetUtcNow() - Stale;
        var rows = await db.Presence.AsNoTracking().Where(p => p.SessionId == sessionId && p.SeenAt >= since)
            .Select(p => new { p.UserId, p.UserName }).ToListAsync(cancellationToken);
        return [.. rows.DistinctBy(r => r.UserId).OrderBy(r => r.UserName, StringComparer.OrdinalIgnoreCase).Select(r => new Watcher(r.UserId, r.UserName))];
    }
}
