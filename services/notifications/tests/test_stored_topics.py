"""Events stored before the domain became a package (their topics name the old modules) still load."""

from eventsourcing.utils import resolve_topic

from services.notifications.domain import CaseFile, CountyDirectory, Notification, StudentContact


def test_topics_of_the_old_modules_resolve_to_the_aggregates_in_the_rooms() -> None:
    assert resolve_topic("services.notifications.domain:Notification.Sent") is Notification.Sent
    assert resolve_topic("services.notifications.domain:StudentContact.Recorded") is StudentContact.Recorded
    assert resolve_topic("services.notifications.domain:CaseFile.OwnersAssigned") is CaseFile.OwnersAssigned
    assert resolve_topic("services.notifications.directory:CountyDirectory.RecipientListed") is (
        CountyDirectory.RecipientListed)
