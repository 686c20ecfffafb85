"""``kafka.BrokerWatch``: the error callback that tells a loop its client lost every broker (and nothing else)."""

from confluent_kafka import Consumer, KafkaError, Producer

from services.runtime.kafka import REPLACED_ON_LOSS, BrokerWatch


def test_every_broker_down_marks_the_client_lost_until_reset():
    watch = BrokerWatch()
    watch.error_cb(KafkaError(KafkaError._TRANSPORT, "one connection closed"))
    watch.error_cb(KafkaError(KafkaError._TIMED_OUT, "a request timed out"))
    assert watch.lost is None
    watch.error_cb(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert watch.lost == "1/1 brokers are down"
    watch.reset()
    assert watch.lost is None


def test_librdkafka_takes_the_settings_of_a_client_replaced_on_loss():
    # an unknown property or value would raise here (KafkaException), e.g. on a librdkafka without KIP-899
    Consumer({"bootstrap.servers": "127.0.0.1:9", "group.id": "g", **BrokerWatch().config()}).close()
    Producer({"bootstrap.servers": "127.0.0.1:9", **REPLACED_ON_LOSS}).flush(0)
